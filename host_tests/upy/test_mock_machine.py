"""The mock `machine` module and its virtual clock, on CPython and the MicroPython unix port."""
from tools.sim import mock_machine as mm

mm.install()
import machine  # noqa: E402  (the mock, registered above)
import time  # noqa: E402


def setup():
    mm.reset_world()
    mm.clock.us = 0


def test_register_installs_the_mock_and_the_virtual_clock():
    setup()
    assert machine is mm
    t0 = time.ticks_ms()
    time.sleep_ms(250)
    assert time.ticks_diff(time.ticks_ms(), t0) == 250
    assert time.ticks_diff(time.ticks_us(), 0) == 250000


def test_ticks_wrap_like_the_ports():
    setup()
    mm.clock.us = (mm.TICKS_PERIOD - 5) * 1000
    a = time.ticks_ms()
    time.sleep_ms(10)
    b = time.ticks_ms()
    assert b < a and time.ticks_diff(b, a) == 10
    assert time.ticks_add(a, 10) == b


def test_pin_modes_pulls_values_and_irq():
    setup()
    out = machine.Pin(5, machine.Pin.OUT, value=1)
    assert out.value() == 1 and mm.output(5) == 1
    out.off()
    assert mm.output(5) == 0
    inp = machine.Pin(6, machine.Pin.IN, machine.Pin.PULL_UP)
    assert inp.value() == 1                           # pulled up when nothing drives it
    seen = []
    inp.irq(handler=lambda p: seen.append(p.value()), trigger=machine.Pin.IRQ_FALLING)
    mm.drive(6, 0)
    mm.drive(6, 0)                                    # no edge: no second call
    mm.drive(6, 1)                                    # rising: not the trigger
    assert seen == [0]


def test_pwm_freq_duty_u16_duty_ns_deinit():
    setup()
    pwm = machine.PWM(machine.Pin(4), freq=1000, duty_u16=32768)
    assert pwm.freq() == 1000 and pwm.duty_u16() == 32768
    pwm.duty_ns(250000)
    assert pwm.duty_u16() == 16383 and abs(pwm.duty_ns() - 250000) < 20
    assert mm.pwms[4] is pwm
    pwm.deinit()
    assert 4 not in mm.pwms
    try:
        pwm.duty_u16(70000)
        assert False, "duty_u16 over 65535 accepted"
    except ValueError:
        pass


def test_adc_reads_its_source_and_costs_conversion_time():
    setup()
    mm.adc_conv_us[36] = 40
    mm.adc_sources[36] = lambda t_us: t_us % 65536
    adc = machine.ADC(machine.Pin(36), atten=machine.ADC.ATTN_11DB)
    adc.atten(machine.ADC.ATTN_11DB)
    a = adc.read_u16()
    b = adc.read_u16()
    assert (a, b) == (0, 40) and mm.clock.us == 80


def test_timer_periodic_and_one_shot():
    setup()
    hits = []
    t = machine.Timer(-1)
    t.init(mode=machine.Timer.PERIODIC, period=10, callback=lambda tm: hits.append(mm.clock.us))
    once = machine.Timer(-1, mode=machine.Timer.ONE_SHOT, period=25, callback=lambda tm: hits.append(-1))
    mm.clock.advance_us(35000)
    assert hits == [10000, 20000, -1, 30000]
    t.deinit()
    mm.clock.advance_us(20000)
    assert len(hits) == 4


def test_wdt_and_reset_cause():
    setup()
    assert machine.reset_cause() == machine.PWRON_RESET
    w = machine.WDT(timeout=2000)
    time.sleep_ms(1500)
    w.feed()
    time.sleep_ms(1500)
    assert not w.expired()
    time.sleep_ms(600)
    assert w.expired()
    mm.set_reset_cause(machine.WDT_RESET)
    assert machine.reset_cause() == machine.WDT_RESET
    try:
        machine.reset()
        assert False, "reset returned"
    except mm.ResetRequested:
        pass


def test_uart_both_ways():
    setup()
    u = machine.UART(2, baudrate=9600)
    got = []
    u.peer = got.append
    assert u.write(b"\x01\x03") == 2 and got == [b"\x01\x03"]
    assert u.any() == 0 and u.read() is None
    u.feed(b"ab\ncd")
    assert u.any() == 5 and u.readline() == b"ab\n"
    buf = bytearray(4)
    assert u.readinto(buf) == 2 and bytes(buf[:2]) == b"cd"


if __name__ == "__main__":
    import upytest
    upytest.run(globals())

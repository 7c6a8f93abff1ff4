// The emulated Raspberry Pi Pico: rp2040js running a stock MicroPython image, its USB CDC serial on
// a TCP port (mpremote: socket://127.0.0.1:PORT), its pins driven by a controller on stdin/stdout.
//
//   node emu.mjs --image IMAGE.uf2|FLASH.bin --bootrom bootrom-b1.bin [--tcp PORT] [--ctl] [--realtime]
//                [--reason N]   (the first boot's watchdog reason: a saved flash's, see "save")
//                [--flash-time typ|max]   (erase and program hold the core, see FLASH_TIME)
//
// EVSE_RP2_NO_SKIP=1 in the environment: every turn of a sleep_us busy wait runs (skipBusyWait).
//
// Prints `{"ev":"ready","tcp":PORT}` on stdout. With --ctl the pins belong to a controller (the
// Python side, tools/rp2emu/board.py, which runs the bench's circuit model): one JSON object a
// line each way, and the core stops after every event until the controller answers {"go":1}, so
// the circuit answers at the emulated instant of the event (lockstep, runs repeat).
//   out:  {"ev":"ready"|"boot"|"off"|"out"|"tick"|"flash"|"pwm", "t": emulated us, ...} ("flash": an erase
//         or program starts and holds the core "us" microseconds, with --flash-time / "flash_time";
//         "pwm": a write changed the slice of a "pwm" pin, its registers as a tick gives them;
//         "tick": ... "skipped": turns of a sleep_us busy wait skipped so far, see skipBusyWait)
//   in:   {"watch":[pins], "tick_ms":N, "pwm":[pins], "mark":pin, "realtime":bool}, {"in":{pin:0|1}}, {"adc":{ch:u16}},
//         {"at": emulated us} (one "at" event then), {"power": 0|1} (the supply cut: an "off" event
//         with every pin dead and time going on; restored: a power-on boot, the flash kept),
//         {"pilot":{"ch":0,"pin":16,"hi":u16,"lo":u16,"edge_us":4,"noise":[...]}},
//         {"ct":{"ch":2,"hz":50,"mid":u16,"peak":u16}} (a current transformer's sine),
//         {"adc_noise": LSB} (RMS, 12-bit LSBs, on the channels set by "adc"; 0: none),
//         {"flash_time": "typ"|"max"|""} (FLASH_TIME; "": none), {"save": path} (the whole flash into a .bin, as it stands: at a "boot" event, what the chip
//         boots from), {"go":1}
// Fidelity notes (rp2040js 1.4.1, ../shared/rp2/README.md): flash program/erase go through the boot
// ROM's flash_range_* functions, which this tool performs on the emulated flash (rp2040js does not
// model the SPI flash commands); a watchdog reset (machine.reset(), a WDT timeout) restarts the chip
// with the flash kept; an idle core (WFI/WFE) skips to its next alarm. The ADC's own noise: every
// conversion of a channel set by "adc" (PP, the temperature sensor) differs a little, as on the
// chip (RP2040 datasheet 4.9.3: ENOB 8.7 bits; a Pico's input-referred noise measures 1-2 LSB RMS):
// 2 LSB RMS unless the controller says otherwise, from a generator seeded again at every boot (runs
// repeat from a boot, whatever ran before it: a `make flash` or a kept flash). The pilot and the CT
// have their own models (the controller's noise table, the sine).
import fs from 'fs';
import net from 'net';
import readline from 'readline';
import { createRequire } from 'module';
import { RP2040, USBCDC, ConsoleLogger, LogLevel, GPIOPinState } from 'rp2040js';

const { decodeBlock } = createRequire(import.meta.url)('uf2');   // its ESM build does not resolve

const FLASH_BASE = 0x10000000;
const NS_PER_CYCLE = 8;                 // 125 MHz, fixed in rp2040js
const SLICE_MS = 20;                    // wall time the core runs before the event loop gets a turn
const WATCHDOG = 0x40058;
const PWM_BASE = 0x40050000;
const BKPT_ERASE = 1, BKPT_PROGRAM = 2;
// The QSPI flash's own time (Winbond W25Q16JV, the Pico's chip, datasheet 9.6 AC characteristics),
// ns: tSE a 4 KB sector erase, tBE2 a 64 KB block erase, tPP a 256-byte page program. While the chip
// erases or programs, execute-in-place is impossible: the rp2 port (ports/rp2/rp2_flash.c) calls
// the boot ROM's functions with interrupts disabled and core 1 locked out, so the core runs
// nothing, interrupts included, until the chip is done. Without a model the ROM call took no time.
const FLASH_TIME = {
  typ: { sector: 45e6, block: 150e6, page: 0.4e6 },
  max: { sector: 400e6, block: 2000e6, page: 3e6 },
};

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
}
const ctl = process.argv.includes('--ctl');
const image = fs.readFileSync(arg('--image'));
const rom = fs.readFileSync(arg('--bootrom'));

// --- the chip's state that outlives a reset: flash, watchdog reason and scratch, elapsed time ---
const flash = new Uint8Array(2 * 1024 * 1024).fill(0xff);
if (image.readUInt32LE(0) === 0x0a324655) {           // UF2 magic
  for (let o = 0; o + 512 <= image.length; o += 512) {
    const b = decodeBlock(new Uint8Array(image.buffer, image.byteOffset + o, 512));
    flash.set(b.payload, b.flashAddress - FLASH_BASE);
  }
} else {
  flash.set(image);                                   // a .bin starts at flash offset 0
}
let timeBaseNs = 0;       // emulated time of the previous boots
let boots = 0;
let mcu, cdc, pendingRead = -1, rebootReason = null, kept = null;
if (arg('--reason')) kept = { reason: Number(arg('--reason')), scratch: new Uint32Array(8) };
let off = false;          // the supply is cut: no instruction runs, only time passes
let busyCycles = 0;
let markHigh = false;     // the mark pin (the firmware's tick light) is high
let litTotal = 0, litAt = 0, litFromUs = 0;   // busy cycles while it was, and its last rise
let spans = [];           // [from us, to us, busy cycles] of each time the light was on
let paused = false;
let flashTime = FLASH_TIME[arg('--flash-time', '')] || null;
let stallNs = 0;          // the flash chip's time still to pass: the core held, interrupts off
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const nowUs = () => Math.round((timeBaseNs + mcu.clock.nanos) / 1000);
const queued = [];        // events of the same step as the one that stopped the core
function event(o) {
  o.t = nowUs();
  // One event a stop: a second in the same step (an "at" on a 10 ms tick, an output with an
  // alarm) waits for the controller's "go" to the first. Sent at once, that "go" let the core run
  // past the second before the controller had acted on it, and the second's "go" then released the
  // next stop: the controller stayed an event behind (host_tests/test_rp2emu_lockstep.py).
  if (ctl && paused) { queued.push(o); return; }
  out(o);
  if (ctl) paused = true;
}

// --- controller's settings (kept across resets: they describe the wiring) ---
let watch = [], tickMs = 0, pwmPins = [], markPin = -1;
const inputs = {};                       // pin -> level
const ADC_CS_START_ONCE = 1 << 2;
const adcValues = [0, 0, 0, 0, 0];       // u16 per channel
let adcNoiseLsb = 2;                     // RMS, 12-bit LSBs, on adcValues' channels
const RNG_SEED = 0x2545f491;
let rng = RNG_SEED;                      // xorshift32: the same draws from every boot
let pilot = null;                        // waveform of ADC pilot.ch following GPIO pilot.pin
let ct = null;                           // ADC ct.ch: the mains sine a CT's burden gives
let noiseI = 0;
let pilotEdgeNs = 0, pilotLevel = false;

// --- host serial: TCP, one client at a time; bytes wait here until the device reads them ---
let inq = Buffer.alloc(0);
let client = null;
function fromHost(b) {               // bytes the host sent, for the device's next OUT read
  if (off) return;
  inq = Buffer.concat([inq, b]);
  deliver();
}
function deliver() {
  if (pendingRead < 0 || inq.length === 0 || !cdc) return;
  const n = Math.min(pendingRead, inq.length);
  pendingRead = -1;
  mcu.usbCtrl.endpointReadDone(cdc.outEndpoint, new Uint8Array(inq.subarray(0, n)));
  inq = inq.subarray(n);
}
const server = net.createServer((sock) => {
  if (client) client.destroy();
  client = sock;
  sock.setNoDelay(true);
  sock.on('data', (d) => { fromHost(d); if (!off) kick(); });
  sock.on('close', () => { if (client === sock) client = null; });
  sock.on('error', () => {});
});

function romFunc(code) {
  // RP2040 datasheet 2.8.3: a 16-bit pointer at 0x14 to (code, address) pairs of 16 bits each
  const rd16 = (a) => rom.readUInt16LE(a);
  for (let p = rd16(0x14); rd16(p); p += 4) {
    if (rd16(p) === code) return rd16(p + 2) & ~1;
  }
  throw new Error('boot ROM function not found: ' + code.toString(16));
}
const code = (s) => s.charCodeAt(0) | (s.charCodeAt(1) << 8);

function patchRom(words) {
  // The flash functions become breakpoints that this tool serves (erase 'RE', program 'RP')
  for (const [name, bk] of [['RE', BKPT_ERASE], ['RP', BKPT_PROGRAM]]) {
    const a = romFunc(code(name));
    const w = a >> 2, shift = (a & 2) ? 16 : 0;
    words[w] = (words[w] & ~(0xffff << shift)) | ((0xbe00 | bk) << shift);
  }
}

function eraseNs(offset, count, blockSize) {
  // The ROM erases a block_size block where one is aligned and whole in the range, else 4 KB sectors
  let ns = 0;
  for (let a = offset, end = offset + count; a < end;) {
    if (blockSize > 4096 && a % blockSize === 0 && a + blockSize <= end) { ns += flashTime.block; a += blockSize; }
    else { ns += flashTime.sector; a += 4096; }
  }
  return ns;
}

function onBreak(n) {
  const c = mcu.core, r = c.registers;
  let ns = 0;
  if (n === BKPT_ERASE) {                 // flash_range_erase(offset, count, block_size, cmd)
    mcu.flash.fill(0xff, r[0], r[0] + r[1]);
    if (flashTime) ns = eraseNs(r[0], r[1], r[2]);
  } else if (n === BKPT_PROGRAM) {        // flash_range_program(offset, data, count)
    for (let i = 0; i < r[2]; i++) mcu.flash[r[0] + i] &= mcu.readUint8(r[1] + i);
    if (flashTime) ns = Math.ceil(((r[0] & 255) + r[2]) / 256) * flashTime.page;   // pages touched
  } else {
    return;
  }
  c.PC = c.LR & ~1;
  if (ns) {               // a stop at its start: the controller may change the world while it holds
    stallNs += ns;
    event({ ev: 'flash', op: n === BKPT_ERASE ? 'e' : 'p', bytes: r[n === BKPT_ERASE ? 1 : 2], us: Math.round(ns / 1000) });
  }
}

function newChip() {
  if (mcu) {
    // The new chip starts on a whole microsecond, the one its reset or power cut is reported at
    // (nowUs rounds): the host maps the chip's time to the scenario's from the boot's instant in us,
    // and a fraction left over moved every edge after a `make flash` (a reset at any ns) by up to a
    // microsecond against a boot from a kept flash (at 0).
    timeBaseNs = Math.round((timeBaseNs + mcu.clock.nanos) / 1000) * 1000;
    if (!off) flash.set(mcu.flash.subarray(0, flash.length));
  }
  mcu = new RP2040();
}

function powerOff() {
  // RAM and every register are lost, the flash is kept; the host's ticks and stops go on, on a
  // chip that runs nothing (its pins are inputs: the coil and the pilot's drive drop)
  newChip();
  off = true;
  cdc = null;
  pendingRead = -1;
  inq = Buffer.alloc(0);
  kept = null;                           // the next boot is a power-on: no reason, no scratch
  rebootReason = null;
  if (tickMs) startTicks();
  event({ ev: 'off' });
}

function boot() {
  newChip();
  off = false;
  mcu.logger = new ConsoleLogger(LogLevel.Error);
  const words = new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length));
  patchRom(words);
  mcu.loadBootrom(words);
  mcu.flash.set(flash);
  mcu.onBreak = onBreak;
  const wd = mcu.peripherals[WATCHDOG];
  if (kept) {                            // a watchdog reset keeps its reason and scratch registers
    wd.reason = kept.reason;
    wd.scratchData.set(kept.scratch);
  }
  wd.onWatchdogTrigger = () => {
    wd.alarm.enable = false;             // the chip resets here: its timer must not fire again
    wd.timer.enable = false;             // (rp2040js reschedules a spent watchdog alarm forever)
    rebootReason = wd.reason;
    kept = { reason: wd.reason, scratch: wd.scratchData.slice() };
  };
  // USB CDC: an OUT read waits for bytes (as a host's NAK does) instead of answering empty at once
  cdc = new USBCDC(mcu.usbCtrl);
  pendingRead = -1;
  const usbRead = mcu.usbCtrl.onEndpointRead;
  mcu.usbCtrl.onEndpointRead = (ep, size) => {
    if (ep !== cdc.outEndpoint) return usbRead(ep, size);
    pendingRead = size;
    deliver();
  };
  cdc.onSerialData = (b) => { if (client) client.write(Buffer.from(b)); };
  // ADC: the pilot channel is sampled at the instant of each conversion
  const adc = mcu.adc;
  adc.onADCRead = (ch) => {
    adc.currentChannel = ch;
    adc.channelValues[ch] = (pilot && ch === pilot.ch ? pilotSample() : ct && ch === ct.ch ? ctSample()
      : staticSample(ch)) >> 4;
    adc.sampleAlarm.schedule(adc.sampleTime * 1000);
  };
  // CS.START_ONCE is self-clearing on the chip (RP2040 datasheet 4.9.6: reads 0). rp2040js 1.4.1
  // keeps it set, so every later read-modify-write of CS (the SDK's adc_select_input, any atomic
  // alias) started one more conversion, whose result a FIFO capture took as its first samples.
  if (!adc.startOnceSelfClearing) {
    adc.startOnceSelfClearing = true;
    const csWrite = adc.writeUint32.bind(adc);
    adc.writeUint32 = (offset, value) => {
      csWrite(offset, value);
      if (offset === 0) adc.cs &= ~ADC_CS_START_ONCE;
    };
  }
  for (const [p, v] of Object.entries(inputs)) mcu.gpio[p].setInputValue(!!v);
  for (const g of mcu.gpio) padLoopback(g);
  for (const p of watch) watchPin(p);
  markHigh = false;
  spans = [];
  if (markPin >= 0) followMark();
  if (pilot) followPilot();
  followPwm();
  if (tickMs) startTicks();
  mcu.core.PC = FLASH_BASE;
  waitPC = process.env.EVSE_RP2_NO_SKIP ? -1 : findBusyWait(mcu.flash);
  waitEnd = -1;
  rng = RNG_SEED;
  noiseI = 0;
  busyCycles = 0;
  stallNs = 0;
  boots++;
  event({ ev: 'boot', n: boots, reason: kept ? kept.reason : 0 });
}

function pilotSample() {
  // The level the GPIO drives now, through an edge of edge_us (the same shape as the host
  // bench's tools/sim/mock_machine/world.py), plus the controller's noise table.
  const p = pilot;
  const dt = mcu.clock.nanos - pilotEdgeNs;
  const edge = p.edge_us * 1000;
  const to = pilotLevel ? p.hi : p.lo, from = pilotLevel ? p.lo : p.hi;
  let v = dt >= edge ? to : Math.trunc(from + (to - from) * dt / edge);
  if (p.noise && p.noise.length) {
    noiseI = noiseI + 1 >= p.noise.length ? 0 : noiseI + 1;
    v += p.noise[noiseI];
  }
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

function uniform() {
  rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
  return (rng >>> 0) / 4294967296;
}

function staticSample(ch) {
  // a set level plus the ADC's noise: near Gaussian (four uniforms: variance 1/3 each sum)
  if (!adcNoiseLsb) return adcValues[ch];
  const g = (uniform() + uniform() + uniform() + uniform() - 2) * Math.sqrt(3);
  const v = Math.round(adcValues[ch] + g * adcNoiseLsb * 16);
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

function ctSample() {
  const v = Math.trunc(ct.mid + ct.peak * Math.sin(2 * Math.PI * ct.hz * (timeBaseNs + mcu.clock.nanos) / 1e9));
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

function followPilot() {
  const g = mcu.gpio[pilot.pin];
  pilotLevel = g.value === 1;
  pilotEdgeNs = -1e12;
  if (!g.pilotListener) {
    g.pilotListener = true;
    g.addListener((v) => { pilotLevel = v === 1; pilotEdgeNs = mcu.clock.nanos; });
  }
}

function followMark() {
  // Counted, never stopped at: the tick light changes twice a tick.
  const g = mcu.gpio[markPin];
  if (g.markListener) return;
  g.markListener = true;
  g.addListener((v) => {
    const high = v === 1;
    if (high === markHigh) return;
    markHigh = high;
    if (high) { litAt = litTotal; litFromUs = nowUs(); }
    else spans.push([litFromUs, nowUs(), litTotal - litAt]);
  });
}

function padLoopback(g) {
  // A driven pad reads back the level it drives (RP2040 datasheet 2.19: the input buffer sits on
  // the pad): Pin.value() of an output is that output. rp2040js 1.4.1 reads GPIO_IN from the
  // external level alone (0 for an output nobody drives from outside), so the firmware's check of
  // its own coil output (hal.set_contactor) read a closed coil as open and the economiser never
  // took over on the emulated Pico. Released, the pin reads what the controller drives, else its pull.
  g.addListener((v) => {
    if (v === GPIOPinState.High || v === GPIOPinState.Low) g.setInputValue(v === GPIOPinState.High);
    else g.setInputValue(g.index in inputs ? !!inputs[g.index] : v === GPIOPinState.InputPullUp);
  });
}

function watchPin(p) {
  const g = mcu.gpio[p];
  if (g.watched) return;
  g.watched = true;
  g.addListener((v) => event({ ev: 'out', pin: p, v: v === 1 ? 1 : 0 }));
}

function pwmState(pin) {
  // slice registers as the firmware set them (RP2040 datasheet 4.5.3)
  const base = PWM_BASE + 0x14 * ((pin >> 1) & 7);
  const cc = mcu.readUint32(base + 0x0c);
  return { csr: mcu.readUint32(base), div: mcu.readUint32(base + 4), top: mcu.readUint32(base + 0x10) & 0xffff,
           cc: pin & 1 ? cc >>> 16 : cc & 0xffff, func: mcu.gpio[pin].functionSelect };
}

let pwmSeen = {};          // pin -> its slice's registers as last reported
function pwmChanged() {
  // The pilot slice's registers (and its pin's function), reported the moment the firmware writes
  // them: read only at the 10 ms ticks, the trace's duty came up to a tick after the firmware set
  // it (state_e: F written 4.012 s for a fault at 4.0049 s, its end 7 ms late too).
  let changed = false;
  const pins = {};
  for (const p of pwmPins) {
    const s = pwmState(p), k = JSON.stringify(s);
    pins[p] = s;
    if (pwmSeen[p] !== k) { pwmSeen[p] = k; changed = true; }
  }
  if (changed) event({ ev: 'pwm', pwm: pins });
}

function followPwm() {
  pwmSeen = {};
  for (const per of [mcu.pwm, mcu.peripherals[0x40014]]) {     // the slices, IO_BANK0's GPIO_CTRL
    const write = per.writeUint32.bind(per);
    per.writeUint32 = (offset, value) => { write(offset, value); if (pwmPins.length) pwmChanged(); };
  }
}

function startTicks() {
  const a = mcu.clock.createAlarm(() => {
    const pins = {};
    for (const p of pwmPins) pins[p] = pwmState(p);
    event({ ev: 'tick', busy: busyCycles, spans, pwm: pins, boots, skipped: skippedTurns });
    busyCycles = 0;
    spans = [];
    a.schedule(tickMs * 1e6);
  });
  a.schedule(tickMs * 1e6);
}

function command(o) {
  if (o.watch) { watch = o.watch; if (mcu) for (const p of watch) watchPin(p); }
  if (o.pwm) pwmPins = o.pwm;
  if (o.mark !== undefined) { markPin = o.mark; if (mcu && markPin >= 0) followMark(); }
  if (o.tick_ms && !tickMs) { tickMs = o.tick_ms; startTicks(); }
  if (o.in) for (const [p, v] of Object.entries(o.in)) { inputs[p] = v; mcu.gpio[p].setInputValue(!!v); }
  if (o.adc) for (const [ch, v] of Object.entries(o.adc)) adcValues[ch] = v;
  if (o.pilot) { pilot = o.pilot; followPilot(); }
  if (o.ct !== undefined) ct = o.ct;
  if (o.adc_noise !== undefined) adcNoiseLsb = o.adc_noise;
  if (o.flash_time !== undefined) flashTime = FLASH_TIME[o.flash_time] || null;
  if (o.realtime !== undefined) { realtime = !!o.realtime; anchorWall = 0; anchorEmu = 0; }
  if (o.at !== undefined) {              // one stop at this emulated time (us): a bench command's
    const a = mcu.clock.createAlarm(() => event({ ev: 'at' }));        // instant, not the next tick
    a.schedule(Math.max(0, o.at * 1000 - (timeBaseNs + mcu.clock.nanos)));
  }
  if (o.save) {
    try {
      fs.writeFileSync(o.save, off ? flash : mcu.flash.subarray(0, flash.length));
    } catch (e) {                          // nothing kept: the controller flashes again next time
      process.stderr.write('emu: flash not saved: ' + e.message + '\n');
    }
  }
  if (o.power === 0 && !off) powerOff();
  if (o.power === 1 && off) boot();
  if (o.serial !== undefined) fromHost(Buffer.from(o.serial, 'utf8'));   // at the instant the chip
                                                                     // stands at (in order with "go")
  if (o.go) {
    if (queued.length) out(queued.shift());     // still stopped: at the next event of that step
    else { paused = false; kick(); }
  }
  if (o.quit) process.exit(0);
}

// --- pacing: with `realtime`, an idle core sleeps in wall time (host tools' timeouts are wall
// time, and so are a running watchdog's 2 s on a real board); without it, it skips ahead ---
let realtime = process.argv.includes('--realtime');
let anchorWall = 0, anchorEmu = 0;
const emuNs = () => timeBaseNs + mcu.clock.nanos;
function wallNs() {
  const w = Number(process.hrtime.bigint());
  if (anchorEmu + (w - anchorWall) > emuNs() + 1e8) {     // 100 ms behind (a busy core): catch up
    anchorWall = w;                                         // no faster than real time later
    anchorEmu = emuNs();
  }
  return anchorEmu + (w - anchorWall);
}

// --- a busy wait on the timer, skipped: the port's mp_hal_delay_us (time.sleep_us) polls
// time_us_64() until its end (ports/rp2/mphalport.c: `while (time_us_64() < end)`), and the CT
// meter's slices spent a quarter of the emulator's instructions there. Whole turns of that loop
// are skipped at once where nothing else can happen in them: each turn reads the timer, finds it
// short of the end and comes back to the loop's head in the same cycles, and no alarm (timer,
// ADC, tick, stop) or interrupt falls inside. The chip's state after the skip is the state the turns
// would have left (the loop's registers are rewritten before they are read), its cycles are
// counted busy: runs are the same, instruction for instruction, only sooner.
const SLEEP_US_TAIL = Buffer.from('8d42fbd801d18442f8d8', 'hex');       // cmp r5,r1; bhi; bne; cmp r4,r0; bhi
const TIME_US_64 = Buffer.from('10b50248fff7d0ff10bdc04600400540', 'hex');  // push; ldr r0,=TIMER; bl; pop
const TIMER_RAW = Buffer.from('0300416a0a00986a596a8a42fad17047', 'hex');  // TIMERAWH, TIMERAWL, TIMERAWH
const PROGRAM_BYTES = 640 * 1024;      // the rp2 port's program area (../shared/rp2/README.md)
let waitPC = -1;          // the loop's head (its call of time_us_64), or -1: not this image's code
let waitEnd = -1, waitAt0 = -1, waitAt1 = -1;   // the end waited for, its last two arrivals (ns)
let skippedTurns = 0;

function blTarget(bytes, at) {
  // ARMv6-M BL (T1): the target of the instruction at offset `at` (bytes from the flash's base)
  const h1 = bytes[at] | (bytes[at + 1] << 8), h2 = bytes[at + 2] | (bytes[at + 3] << 8);
  if ((h1 & 0xf800) !== 0xf000 || (h2 & 0xd000) !== 0xd000) return -1;
  const s = (h1 >> 10) & 1, i1 = ((h2 >> 13) & 1) ^ s ^ 1, i2 = ((h2 >> 11) & 1) ^ s ^ 1;
  let imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3ff) << 12) | ((h2 & 0x7ff) << 1);
  if (s) imm -= 1 << 25;
  return at + 4 + imm;
}

function findBusyWait(bytes) {
  // The loop's head in this image, checked down to the timer's registers it reads, else -1
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, PROGRAM_BYTES);
  const tail = buf.indexOf(SLEEP_US_TAIL);
  if (tail < 4 || buf.indexOf(SLEEP_US_TAIL, tail + 1) >= 0) return -1;
  const fn = blTarget(bytes, tail - 4);
  if (fn < 0 || fn % 4 || !buf.subarray(fn, fn + 16).equals(TIME_US_64)) return -1;
  const raw = blTarget(bytes, fn + 4);
  if (raw < 0 || !buf.subarray(raw, raw + 16).equals(TIMER_RAW)) return -1;
  return FLASH_BASE + tail - 4;
}

function skipBusyWait(core, clock) {
  // At the loop's head: after two turns of equal length, the turns that cannot end the wait
  const r = core.registers, now = clock.nanos;
  const end = r[5] * 4294967296 + r[4];          // us, as the loop compares it
  if (end !== waitEnd) { waitEnd = end; waitAt0 = -1; waitAt1 = now; return; }
  const turn = now - waitAt1, same = turn === waitAt1 - waitAt0;
  waitAt0 = waitAt1;
  waitAt1 = now;
  if (!same || turn <= 0 || core.pendingInterrupts || core.pendingSVCall || core.pendingPendSV ||
      core.pendingSystick || core.pendingNMI || core.interruptsUpdated) return;
  // a turn that starts at t loops back if its last read is short of the end: t + turn < end us
  let k = Math.ceil((end * 1000 - now) / turn) - 1;
  if (clock.nextAlarm) k = Math.min(k, Math.ceil((clock.nextAlarm.nanos - now) / turn) - 1);
  const hi = (ns) => Math.floor(ns / 1000 / 4294967296);        // TIMERAWH: the same in every turn
  if (k < 1 || hi(now + (k + 1) * turn) !== hi(now)) return;
  const cyc = k * turn / NS_PER_CYCLE;
  busyCycles += cyc;
  if (markHigh) litTotal += cyc;
  clock.tick(k * turn);
  skippedTurns += k;
  waitAt0 = clock.nanos - turn;
  waitAt1 = clock.nanos;
}

// --- the core: instructions, or a skip to the next alarm when it waits for an interrupt ---
let scheduled = false;
function kick() {
  if (!scheduled) { scheduled = true; setImmediate(run); }
}
function run() {
  scheduled = false;
  const end = Date.now() + SLICE_MS;
  while (!paused) {
    for (let i = 0; i < 10000 && !paused; i++) {
      const core = mcu.core, clock = mcu.clock;
      if (stallNs > 0 && !off) {      // the flash chip busy: time passes, the core runs nothing
        const n = clock.nextAlarm ? Math.min(stallNs, Math.max(0, clock.nanosToNextAlarm)) : stallNs;
        const cyc = Math.round(n / NS_PER_CYCLE);
        busyCycles += cyc;              // held, not asleep: the tick's load and the tick light count it
        if (markHigh) litTotal += cyc;
        stallNs -= n;
        clock.tick(n);
      } else if (core.waiting || off) {
        if (!clock.nextAlarm) return;   // nothing will wake it but the host: wait for bytes
        const n = Math.max(0, clock.nanosToNextAlarm);
        const ahead = realtime ? emuNs() + n - wallNs() : 0;
        if (ahead > 0) {                // paced: sleep in wall time until the alarm is due
          setTimeout(kick, Math.max(1, ahead / 1e6));
          return;
        }
        clock.tick(n);
      } else {
        if (core.registers[15] === waitPC) skipBusyWait(core, clock);
        const c = core.executeInstruction();
        busyCycles += c;
        if (markHigh) litTotal += c;
        clock.tick(c * NS_PER_CYCLE);
      }
      if (rebootReason !== null) { rebootReason = null; boot(); }
    }
    if (Date.now() >= end) break;
  }
  if (!paused) kick();
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => process.stderr.write(JSON.stringify({
  t: nowUs(), pc: mcu.core.PC.toString(16), waiting: mcu.core.waiting, paused, pendingRead, inq: inq.length,
  cdc: cdc.outEndpoint, boots, client: !!client }) + '\n'));
if (ctl) {
  readline.createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim()) command(JSON.parse(l)); });
  process.stdin.on('end', () => process.exit(0));
}
server.listen(Number(arg('--tcp', '0')), '127.0.0.1', () => {
  out({ ev: 'ready', tcp: server.address().port });
  boot();
  kick();
});

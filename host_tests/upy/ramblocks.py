"""A block device in RAM for a real littlefs (os.VfsLfs2) on the MicroPython unix port, as the
boards mount their flash: the flash tests' twins (test_flash_audit9_upy, test_update_audit15_upy,
test_meter_upy)."""


class RamBlocks:
    def __init__(self, blocks, size=4096):
        self.size = size
        self.data = bytearray(blocks * size)
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        a = n * self.size + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        a = n * self.size + (off or 0)
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:         # MP_BLOCKDEV_IOCTL_BLOCK_COUNT
            return self.blocks
        if op == 5:         # MP_BLOCKDEV_IOCTL_BLOCK_SIZE
            return self.size
        if op == 6:         # MP_BLOCKDEV_IOCTL_BLOCK_ERASE
            return 0

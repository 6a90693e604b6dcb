# flashbdev of the esp32-ota virtual ESP32: `bdev` is the block device of the
# data partition that holds the / filesystem, or None when the table has none.
from esp32 import Partition


def _filesystem_partition():
    # MicroPython's tables call it "vfs"; boards with TinyUF2 use "ffat" with 512-byte blocks.
    for label, block_size in (("vfs", 4096), ("ffat", 512)):
        found = Partition.find(Partition.TYPE_DATA, label=label, block_size=block_size)
        if found:
            return found[0]
    return None


bdev = _filesystem_partition()

# cryptolib of the esp32-ota virtual ESP32, as MicroPython v1.23's
# extmod/modcryptolib.c: aes(key, mode, IV) with 16- or 32-byte keys, modes
# MODE_ECB (1), MODE_CBC (2) and MODE_CTR (6); encrypt()/decrypt() chain
# across calls; one object either encrypts or decrypts (CTR does both).
import binascii
import uctypes
import _esp32_lib

MODE_ECB = 1
MODE_CBC = 2
MODE_CTR = 6


class aes:
    def __init__(self, key, mode, IV=None):
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode not in (MODE_ECB, MODE_CBC, MODE_CTR):
            raise ValueError("mode")
        if mode != MODE_ECB:
            if IV is None or len(IV) != 16:
                raise ValueError("IV")
        self._mode = mode
        self._direction = None
        iv = binascii.hexlify(IV).decode() if IV is not None else ""
        self._id = _esp32_lib.aes_new(binascii.hexlify(key).decode(), mode, iv)

    def _run(self, encrypt, data, out):
        if self._mode != MODE_CTR and len(data) % 16:
            raise ValueError("blksize")
        if self._direction is not None and self._direction != encrypt and self._mode != MODE_CTR:
            raise TypeError("can't encrypt & decrypt")
        self._direction = encrypt
        target = bytearray(len(data)) if out is None else out
        if len(target) < len(data):
            raise ValueError("output too small")
        if len(data):
            _esp32_lib.aes_run(self._id, 1 if encrypt else 0, uctypes.addressof(data), uctypes.addressof(target), len(data))
        return bytes(target) if out is None else None

    def encrypt(self, in_buf, out_buf=None):
        return self._run(True, in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        return self._run(False, in_buf, out_buf)

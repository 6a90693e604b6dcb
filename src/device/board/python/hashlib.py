# hashlib of the esp32-ota virtual ESP32: the build's sha256 plus md5 and sha1,
# which the ESP32 build has (mbedTLS) and the WebAssembly build lacks. As in
# MicroPython: update(), digest(); no data after digest(), no hexdigest().
import hashlib as _hashlib
import uctypes
import _esp32_lib

sha256 = _hashlib.sha256


class _LibraryHash:
    _NAME = ""

    def __init__(self, data=None):
        self._id = _esp32_lib.hash_new(self._NAME)
        self._digest = None
        if data is not None:
            self.update(data)

    def update(self, data):
        if self._digest is not None:
            raise ValueError("hash is final")
        if len(data):
            _esp32_lib.hash_update(self._id, uctypes.addressof(data), len(data))

    def digest(self):
        if self._digest is None:
            import binascii

            self._digest = binascii.unhexlify(_esp32_lib.hash_digest(self._id))
        return self._digest


class md5(_LibraryHash):
    _NAME = "md5"


class sha1(_LibraryHash):
    _NAME = "sha1"

# ota.update: write new MicroPython firmware into the next OTA partition, from
# a URL, a file, a stream or a JSON manifest, and set it to boot only once its
# length and SHA-256 (and the manifest's signature, when the board holds a
# key) are checked. Fixed 4 KiB buffers: nothing is read whole.
import gc
import hashlib
import json
import time

import binascii
from esp32 import Partition
from . import http, status

BLOCK = 4096
KEY_FILE = "/ota.pub"  # hex of an Ed25519 public key: manifests must be signed by its private key
_MAX_MANIFEST = 8192
_MAX_PIECE = BLOCK + 1024  # a compressed block is never larger (a stored deflate block is 4096 + 5 bytes)


def _is_url(name):
    return name.startswith("http://") or name.startswith("https://")


def _hex(digest):
    return binascii.hexlify(digest).decode()


class OTA:
    """Writes an app image into the next OTA partition. As a context manager,
    close() runs only when the block ends without an exception: a failed
    update never changes the boot partition."""

    def __init__(self, verify=True, verbose=True, reboot=False, sha="", length=0, progress=None):
        self.verify = verify
        self.verbose = verbose
        self.reboot = reboot
        self.sha = sha.lower()
        self.length = length
        self.progress = progress  # progress(bytes_written, total_or_0), called once per block
        try:
            self.part = Partition(Partition.RUNNING).get_next_update()
        except OSError as error:
            raise ValueError("this board has no OTA partition to update (%s): it needs an OTA partition table" % (error,))
        self.label = self.part.info()[4]
        self.blocks = self.part.ioctl(4, 0)
        self.block_size = self.part.ioctl(5, 0)
        self.buf = bytearray(BLOCK)
        self.mv = memoryview(self.buf)
        self.fill = 0  # bytes of the current block in buf
        self.block = 0  # next block to write
        self.written = 0
        self.downloaded = 0  # bytes read from the source (compressed ones for a compressed file)
        self.digest = None  # SHA-256 hex of the image, set by close()
        self.version = None  # the version the manifest names
        self.hash = hashlib.sha256()
        self.started = time.ticks_ms()
        self.up_to_date = False  # from_json found the board already runs the manifest's version
        self._log("Writing new micropython image to OTA partition '%s'..." % self.label)
        self._log("Device capacity: %d x %d byte blocks." % (self.blocks, self.block_size))
        self._check_length(length)

    def _log(self, *args, **kw):
        if self.verbose:
            print(*args, **kw)

    def _check_length(self, length):
        if length > self.blocks * self.block_size:
            raise ValueError("the firmware is %d bytes, larger than partition '%s' (%d bytes)" % (length, self.label, self.blocks * self.block_size))
        if length:
            self._log("Writing %d blocks + %d bytes." % (length // BLOCK, length % BLOCK))

    def _flush(self):
        if self.fill < BLOCK:
            for i in range(self.fill, BLOCK):
                self.buf[i] = 0xFF
        if self.block >= self.blocks:
            raise ValueError("the firmware is larger than partition '%s'" % self.label)
        self.part.writeblocks(self.block, self.buf)
        self.block += 1
        self.fill = 0
        if self.progress:
            self.progress(self.written, self.length)
        elif self.verbose:
            print("\rBLOCK %d" % self.block, end="")

    def _took(self, n):
        self.hash.update(self.mv if n == BLOCK else self.mv[self.fill : self.fill + n])  # no slice for a whole block
        self.fill += n
        self.written += n
        if self.length and self.written > self.length:
            raise ValueError("received more than the expected %d bytes" % self.length)
        if self.fill == BLOCK:
            self._flush()

    def write(self, data):
        """Append data to the image (written to flash a 4 KiB block at a time)."""
        data = memoryview(data)
        done = 0
        while done < len(data):
            n = min(BLOCK - self.fill, len(data) - done)
            self.mv[self.fill : self.fill + n] = data[done : done + n]
            done += n
            self._took(n)
        return done

    def from_stream(self, f, sha="", length=0):
        """Copy a stream (anything with readinto) into the partition, block by block."""
        self._expect(sha, length)
        while True:
            n = f.readinto(self.mv[self.fill :] if self.fill else self.mv)
            if not n:
                break
            self.downloaded += n
            self._took(n)

    def _expect(self, sha, length):
        if sha:
            self.sha = sha.lower()
        if length:
            self.length = length
            self._check_length(length)

    def from_firmware_file(self, url, sha="", length=0, compression=None, **request_args):
        """Write the firmware at url (http, https or a file on the board).
        compression: the manifest's {"method": "deflate", "wbits", "sha", "length"} for a compressed file."""
        self._expect(sha, length)
        self._log("Opening firmware file %s..." % url)
        source = http.request(url, verbose=self.verbose, **request_args) if _is_url(url) else open(url, "rb")
        try:
            if compression:
                self._from_compressed(source, compression)
            else:
                self.from_stream(source)
        finally:
            source.close()
        if self.verbose and not self.progress:
            print("\rBLOCK %d + %d bytes" % (self.written // BLOCK, self.written % BLOCK))
        resumes = getattr(source, "resumes", 0)
        if resumes:
            self._log("The download was resumed %d time(s) with HTTP Range." % resumes)

    def _from_compressed(self, source, compression):
        """The block-deflate file: per 4 KiB block, a u16 length and the piece of one raw
        deflate stream that produces the block (the host transfer's discipline)."""
        import deflate
        import io

        wbits = compression.get("wbits", 15)
        piece = bytearray(_MAX_PIECE)
        pmv = memoryview(piece)
        feed = io.BytesIO()
        decoder = deflate.DeflateIO(feed, deflate.RAW, wbits)
        hasher = hashlib.sha256()
        got = 0
        remaining = self.length
        if not remaining:
            raise ValueError("a compressed firmware needs its length in the manifest")
        head = pmv[:2]
        while remaining:
            _read_exact(source, head)
            size = piece[0] | piece[1] << 8
            if size > _MAX_PIECE:
                raise ValueError("compressed block %d is %d bytes: the file is not block-deflate" % (self.block, size))
            hasher.update(head)
            body = pmv[:size]  # the one new object per block
            _read_exact(source, body)
            hasher.update(body)
            got += 2 + size
            self.downloaded += 2 + size
            feed.seek(0)
            feed.write(body)
            feed.seek(0)
            n = min(BLOCK - self.fill, remaining)
            try:
                out = decoder.readinto(self.mv if n == BLOCK else self.mv[self.fill : self.fill + n])
            except (OSError, EOFError) as error:
                raise ValueError("compressed block %d does not decompress: %r" % (self.block, error))
            if out != n:
                raise ValueError("compressed block %d gave %d bytes, not %d" % (self.block, out, n))
            remaining -= n
            self._took(n)
        if source.readinto(pmv[:1]):
            raise ValueError("the compressed file is longer than its blocks")
        digest = _hex(hasher.digest())
        if got != compression["length"] or digest != compression["sha"].lower():
            raise ValueError("the compressed file is %d bytes with SHA-256 %s, the manifest says %d and %s" % (got, digest, compression["length"], compression["sha"]))

    def from_json(self, url, force=False, pubkey=None, **request_args):
        """Update from a JSON manifest (the seed's keys firmware, sha, length, and ours:
        version, chip, project, idf, compression, signature). Returns False when the
        board already runs that version (unless force)."""
        manifest = load_manifest(url, verbose=self.verbose, **request_args)
        check_manifest(manifest, pubkey)
        version = self.version = manifest.get("version")
        if version and version == status.firmware_version() and not force:
            self._log("Micropython %s already runs: nothing to update (force=True writes it anyway)." % version)
            self.up_to_date = True
            return False
        if version:
            self._log("Manifest: MicroPython %s for %s%s." % (version, manifest.get("chip", "any chip"), (", ESP-IDF " + manifest["idf"]) if "idf" in manifest else ""))
        compression = manifest.get("compression")
        if compression and not _can_decompress(compression):
            compression = None
        firmware = compression["firmware"] if compression else manifest["firmware"]
        self.from_firmware_file(resolve(url, firmware), manifest["sha"], manifest["length"], compression, **request_args)
        return True

    def close(self):
        """Check length and SHA-256, read the partition back, and set it to boot."""
        if self.up_to_date:
            return
        if self.fill:
            self._flush()
        if self.length and self.written != self.length:
            raise ValueError("received %d bytes, expected %d: the boot partition is unchanged" % (self.written, self.length))
        digest = self.digest = _hex(self.hash.digest())
        if self.sha and digest != self.sha:
            raise ValueError("SHA-256 of the received data is %s, expected %s: the boot partition is unchanged" % (digest, self.sha))
        if self.verify:
            self._log("Verifying SHA of the written data...", end="")
            check = hashlib.sha256()
            left = self.written
            for block in range((self.written + BLOCK - 1) // BLOCK):
                self.part.readblocks(block, self.buf)
                check.update(self.mv[: min(BLOCK, left)])
                left -= BLOCK
            if _hex(check.digest()) != digest:
                self._log("Failed.")
                raise ValueError("partition '%s' reads back differently from what was written: the boot partition is unchanged" % self.label)
            self._log("Passed.")
        self._log("SHA256=%s" % digest)
        self.part.set_boot()  # ESP-IDF validates the image: OSError -5379 when it is not a bootable app
        if Partition(Partition.BOOT).info() != self.part.info():
            print("Warning: the boot partition did not change to '%s'." % self.label)
        elapsed = time.ticks_diff(time.ticks_ms(), self.started) / 1000
        self._log("OTA Partition '%s' updated successfully (%d bytes in %.1f s)." % (self.label, self.written, elapsed))
        self._log("Micropython will boot from '%s' partition on next boot." % self.label)
        self._log("Remember to call ota.rollback.cancel() after successful reboot.")
        if self.reboot:
            _countdown_reset()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        return False


def _read_exact(source, view):
    done = 0
    while done < len(view):
        n = source.readinto(view[done:] if done else view)
        if not n:
            raise ValueError("the compressed file ends early")
        done += n


def _can_decompress(compression):
    if compression.get("method") != "deflate":
        return False
    try:
        import deflate  # noqa: F401  (MicroPython 1.21+)
    except ImportError:
        return False
    gc.collect()
    return gc.mem_free() > 3 << compression.get("wbits", 15)


def resolve(manifest_url, firmware):
    """The seed's rule: http:, https: and / are absolute; else relative to the manifest's folder."""
    if _is_url(firmware) or firmware.startswith("/"):
        return firmware
    return manifest_url[: manifest_url.rfind("/") + 1] + firmware


def load_manifest(url, verbose=False, **request_args):
    if not url.endswith(".json"):
        raise ValueError("a manifest URL must end in .json: %s" % url)
    if _is_url(url):
        with http.request(url, verbose=verbose, **request_args) as response:
            text = response.read(_MAX_MANIFEST)
    else:
        with open(url) as f:
            text = f.read(_MAX_MANIFEST + 1)
        if len(text) > _MAX_MANIFEST:
            raise ValueError("%s is longer than %d bytes" % (url, _MAX_MANIFEST))
    manifest = json.loads(text)
    if not isinstance(manifest, dict):
        raise ValueError("%s is not a JSON object" % url)
    for key in ("firmware", "sha", "length"):
        if key not in manifest:
            print("Manifest %s has no '%s': it needs the keys firmware, sha and length." % (url, key))
            raise KeyError(key)
    return manifest


def signed_text(manifest):
    """What a manifest's signature covers: the image and what it is for, not where it is."""
    lines = ["esp32-ota manifest 1", "sha " + manifest["sha"].lower(), "length %d" % manifest["length"]]
    for key in ("version", "chip", "project", "idf"):
        lines.append("%s %s" % (key, manifest.get(key, "")))
    c = manifest.get("compression")
    lines.append("compression " + ("%s %d %s %d" % (c["method"], c.get("wbits", 15), c["sha"].lower(), c["length"]) if c else "none"))
    return ("\n".join(lines) + "\n").encode()


def _public_key(pubkey):
    if pubkey is None:
        try:
            with open(KEY_FILE) as f:
                pubkey = f.read().strip()
        except OSError:
            return None
    if isinstance(pubkey, str):
        pubkey = binascii.unhexlify(pubkey.strip())
    if len(pubkey) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (64 hex digits), got %d bytes" % len(pubkey))
    return pubkey


def check_manifest(manifest, pubkey=None):
    """Refuse, before a byte is written, a manifest for another chip, with bad fields, or
    unsigned / badly signed when the board holds a public key (pubkey or /ota.pub)."""
    if not isinstance(manifest["sha"], str) or len(manifest["sha"]) != 64 or not isinstance(manifest["length"], int) or not isinstance(manifest["firmware"], str):
        raise ValueError("manifest: firmware must be a URL, sha 64 hex digits and length a number")
    key = _public_key(pubkey)
    if key is not None:
        signature = manifest.get("signature")
        if not signature:
            raise ValueError("the manifest is not signed, and this board accepts only signed manifests (its key is %s)" % ("the pubkey argument" if pubkey else KEY_FILE))
        from .ed25519 import verify

        if len(signature) != 128 or not verify(key, signed_text(manifest), binascii.unhexlify(signature)):
            raise ValueError("the manifest's signature does not match this board's public key: refusing it")
    chip = manifest.get("chip")
    if chip and chip != status.chip():
        raise ValueError("the firmware is for %s, this board is an %s: refusing it" % (chip, status.chip()))


def _countdown_reset():
    import machine

    print("Rebooting in 10 seconds (ctrl-C to cancel)", end="")
    for _ in range(10):
        time.sleep(1)
        print(".", end="")
    print()
    machine.reset()


def from_file(url, sha="", length=0, verify=True, verbose=True, reboot=True, **request_args):
    """Write the firmware at url (http, https or a file) to the next OTA partition and boot it."""
    if _public_key(None) is not None:
        raise ValueError("this board accepts only signed manifests (%s is installed): use from_json" % KEY_FILE)
    with OTA(verify, verbose, reboot) as ota_update:
        ota_update.from_firmware_file(url, sha, length, **request_args)


def from_json(url, verify=True, verbose=True, reboot=True, force=False, pubkey=None, **request_args):
    """Update from a JSON manifest (firmware, sha, length, ...) and boot it.
    Returns False when the board already runs the manifest's version."""
    with OTA(verify, verbose, reboot) as ota_update:
        return ota_update.from_json(url, force=force, pubkey=pubkey, **request_args)

# socket of the esp32-ota virtual ESP32, as MicroPython v1.23's
# ports/esp32/modsocket.c: lwIP's constants, getaddrinfo tuples, timeouts
# (ETIMEDOUT when a timeout passes, EAGAIN when non-blocking), read() and
# readinto() answering None when a non-blocking socket has nothing.
# The I/O happens on the host (src/node/host-network.ts) through _esp32_net.
import io
import json
import uctypes
import _esp32_net

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
SOL_SOCKET = 0xFFF
SO_REUSEADDR = 0x0004
SO_BROADCAST = 0x0020
TCP_NODELAY = 0x01
IP_ADD_MEMBERSHIP = 0x03

_EINPROGRESS = 119
_ETIMEDOUT = 116
_EAGAIN = 11
_STREAM_POLL = 3
_STREAM_CLOSE = 4
_CHUNK = 4096
_LINE_CHUNK = 64


def _raise(answer):
    if answer.get("message"):
        raise OSError(answer["errno"], answer["message"])
    raise OSError(answer["errno"])


def _call(request):
    answer = json.loads(_esp32_net.call(json.dumps(request)))
    if not answer["ok"]:
        _raise(answer)
    return answer["value"]


def _wait(request, timeout_ms):
    answer = json.loads(_esp32_net.wait(json.dumps(request), timeout_ms))
    if answer["ok"]:
        return answer["value"]
    if answer.get("timeout"):
        raise OSError(_EAGAIN if timeout_ms == 0 else _ETIMEDOUT)
    _raise(answer)


def _check(count):
    if count < 0:
        raise OSError(-count)
    return count


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    # lwIP answers one IPv4 address; the tuple is (family, type, proto, canonname, (ip, port)).
    address = _call({"op": "getaddrinfo", "host": host})[0]
    return [(AF_INET, SOCK_STREAM, 0, "", (address, int(port)))]


def _resolve(address):
    host, port = address
    return getaddrinfo(host, port)[0][4]


class socket(io.IOBase):
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, _id=None):
        self._type = type
        self._timeout = -1
        self._id = _id if _id is not None else _call({"op": "open", "kind": "udp" if type == SOCK_DGRAM else "tcp"})

    def __repr__(self):
        return "<socket state=%s timeout=%d incoming=0 off=0>" % ("closed" if self._id is None else "open", self._timeout)

    def _live(self):
        if self._id is None:
            raise OSError(9)  # EBADF
        return self._id

    def bind(self, address):
        host, port = _resolve(address)
        _call({"op": "bind", "id": self._live(), "host": host, "port": port})

    def listen(self, backlog=5):
        _call({"op": "listen", "id": self._live(), "backlog": backlog})

    def accept(self):
        id, host, port = _wait({"op": "accept", "id": self._live()}, self._timeout)
        return socket(AF_INET, SOCK_STREAM, 0, id), (host, port)

    def connect(self, address):
        host, port = _resolve(address)
        _call({"op": "connect", "id": self._live(), "host": host, "port": port})
        if self._type == SOCK_DGRAM:
            self._peer = (host, port)
            return
        if self._timeout == 0:
            raise OSError(_EINPROGRESS)
        _wait({"op": "state", "id": self._id}, self._timeout)

    def settimeout(self, value):
        self._timeout = -1 if value is None else int(value * 1000)

    def setblocking(self, flag):
        self._timeout = -1 if flag else 0

    def setsockopt(self, level, option, value):
        if option not in (SO_REUSEADDR, SO_BROADCAST, TCP_NODELAY, IP_ADD_MEMBERSHIP, 20):
            print("Warning: lwip.setsockopt() option not implemented")

    def makefile(self, mode="rb", buffering=0):
        return self

    def recv(self, size):
        buffer = bytearray(size)
        count = self._recv_into(buffer, size, 0)
        return bytes(buffer) if count == size else bytes(memoryview(buffer)[:count])

    def _recv_into(self, buffer, size, line):
        if size == 0:
            return 0
        return _check(_esp32_net.recv_into(self._live(), uctypes.addressof(buffer), size, self._timeout, line))

    def recvfrom(self, size):
        buffer = bytearray(size)
        answer = json.loads(_esp32_net.recvfrom_into(self._live(), uctypes.addressof(buffer), size, self._timeout))
        count = _check(answer[0])
        return bytes(memoryview(buffer)[:count]), (answer[1], answer[2])

    def send(self, data):
        if len(data) == 0:
            return 0
        return _check(_esp32_net.send(self._live(), uctypes.addressof(data), len(data), self._timeout))

    def sendall(self, data):
        view = memoryview(data)
        while len(view) > 0:
            view = view[self.send(view):]

    def sendto(self, data, address):
        host, port = _resolve(address)
        return _check(_esp32_net.sendto(self._live(), uctypes.addressof(data), len(data), host, port))

    # Stream methods, as mp_stream: a non-blocking socket with nothing to read gives None.
    def readinto(self, buffer, size=None):
        size = len(buffer) if size is None else min(size, len(buffer))
        try:
            return self._recv_into(buffer, size, 0)
        except OSError as error:
            if error.errno == _EAGAIN and self._timeout == 0:
                return None
            raise

    def read(self, size=-1):
        if size is None or size < 0:
            parts = []
            while True:
                part = self.read(_CHUNK * 4)
                if not part:
                    break
                parts.append(part)
            return b"".join(parts)
        buffer = bytearray(size)
        count = self.readinto(buffer)
        if count is None:
            return None
        return bytes(buffer) if count == size else bytes(memoryview(buffer)[:count])

    def readline(self, size=-1):
        parts = []
        while True:
            # Small reads, as MicroPython's readline grows its line from 16 bytes: the heap use of a
            # header line is about its length, not a 4 KiB buffer (measured by the ota package's tests).
            want = _LINE_CHUNK if size < 0 else min(size, _LINE_CHUNK)
            if want == 0:
                break
            buffer = bytearray(want)
            count = self._recv_into(buffer, want, 1)
            if count == 0:
                break
            part = bytes(memoryview(buffer)[:count])
            parts.append(part)
            if size >= 0:
                size -= count
            if part[-1] == 10:
                break
        return b"".join(parts)

    def write(self, data, size=None):
        if size is not None:
            data = memoryview(data)[:size]
        try:
            return self.send(data)
        except OSError as error:
            if error.errno == _EAGAIN and self._timeout == 0:
                return None
            raise

    def ioctl(self, request, argument):
        if request == _STREAM_POLL:
            answer = json.loads(_esp32_net.poll(json.dumps([[self._live(), argument]]), 0, 0))
            return answer[0][0]
        if request == _STREAM_CLOSE:
            self.close()
            return 0
        return -22

    def close(self):
        if self._id is not None:
            _call({"op": "close", "id": self._id})
            self._id = None

    def __del__(self):
        self.close()

# umqtt.simple: an MQTT 3.1.1 client with the API of micropython-lib's
# umqtt.simple 1.4.0, the version frozen into the official ESP32 firmware of
# MicroPython v1.23 (written anew for this project). The virtual board
# provides this file as its frozen `umqtt.simple`; the ota package ships it as
# `ota.mqtt` for firmware without one.
# API: MQTTClient(client_id, server, port=0, user=None, password=None,
# keepalive=0, ssl=None), where ssl is an SSLContext (ssl.SSLContext or
# tls.SSLContext); set_callback(f(topic, msg)), set_last_will, connect(
# clean_session=True, timeout=None) -> session present (timeout= is 1.5.0's,
# kept for newer code), disconnect, ping, publish (QoS 0 and 1), subscribe,
# wait_msg, check_msg; MQTTException(code) when the broker refuses.
# Every packet is small: it is built in one bytearray and written whole.
import socket


class MQTTException(Exception):
    pass


def _bytes(value):
    return value.encode() if isinstance(value, str) else bytes(value)


def _length(n):
    """The Remaining Length field: 7 bits a byte, least significant first."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return out


def _field(data):
    return bytes((len(data) >> 8, len(data) & 0xFF)) + data


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.sock = None
        self.server = server
        self.port = port
        self.ssl = ssl
        self.pid = 0
        self.cb = None
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False

    def _write(self, data):
        view = memoryview(data)
        while view:
            n = self.sock.write(view)
            if n:
                view = view[n:]

    def _read(self, n):
        """Exactly n bytes (the broker closing the connection meanwhile is OSError(-1), as umqtt has it)."""
        data = b""
        while len(data) < n:
            part = self.sock.read(n - len(data))
            if part is None:  # a non-blocking socket between two pieces of a packet
                continue
            if not part:
                raise OSError(-1)
            data += part
        return data

    def _recv_len(self):
        n = 0
        shift = 0
        while True:
            byte = self._read(1)[0]
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7

    def _next_pid(self):
        self.pid = self.pid % 0xFFFF + 1  # packet ids are 1..65535
        return self.pid

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2
        assert topic
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True, timeout=None):
        if self.sock:
            self.sock.close()
            self.sock = None
        sock = socket.socket()
        try:
            sock.settimeout(timeout)
            sock.connect(socket.getaddrinfo(self.server, self.port)[0][-1])
            if self.ssl:
                sock = self.ssl.wrap_socket(sock, server_hostname=self.server)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        flags = 0x02 if clean_session else 0
        payload = _field(_bytes(self.client_id))
        if self.lw_topic:
            flags |= 0x04 | self.lw_qos << 3 | (0x20 if self.lw_retain else 0)
            payload += _field(_bytes(self.lw_topic)) + _field(_bytes(self.lw_msg))
        if self.user:
            flags |= 0x80
            payload += _field(_bytes(self.user))
            if self.pswd is not None:
                flags |= 0x40
                payload += _field(_bytes(self.pswd))
        assert 0 <= self.keepalive < 65536
        variable = b"\x00\x04MQTT\x04" + bytes((flags, self.keepalive >> 8, self.keepalive & 0xFF))
        self._write(b"\x10" + _length(len(variable) + len(payload)) + variable + payload)
        answer = self._read(4)
        if answer[0] != 0x20 or answer[1] != 0x02:
            raise MQTTException("not a CONNACK: %r" % answer)
        if answer[3] != 0:
            raise MQTTException(answer[3])  # 1 protocol, 2 client id, 3 unavailable, 4 user/password, 5 not authorised
        return answer[2] & 1

    def disconnect(self):
        try:
            self._write(b"\xe0\x00")
        finally:
            self.sock.close()
            self.sock = None

    def ping(self):
        self._write(b"\xc0\x00")

    def publish(self, topic, msg, retain=False, qos=0):
        assert qos in (0, 1), "QoS 2 is not supported"
        topic = _bytes(topic)
        msg = _bytes(msg)
        pid = self._next_pid() if qos else 0
        size = 2 + len(topic) + len(msg) + (2 if qos else 0)
        assert size < 2097152
        header = bytes((0x30 | qos << 1 | (1 if retain else 0),)) + _length(size) + _field(topic)
        if qos:
            header += bytes((pid >> 8, pid & 0xFF))
        self._write(header)
        self._write(msg)
        if qos == 1:
            while True:
                if self.wait_msg() == 0x40:
                    size = self._read(1)[0]
                    acked = self._read(2)
                    assert size == 2
                    if acked[0] << 8 | acked[1] == pid:
                        return

    def subscribe(self, topic, qos=0):
        assert self.cb is not None, "Subscribe callback is not set"
        topic = _bytes(topic)
        pid = self._next_pid()
        self._write(b"\x82" + _length(2 + 2 + len(topic) + 1) + bytes((pid >> 8, pid & 0xFF)) + _field(topic) + bytes((qos,)))
        while True:
            if self.wait_msg() == 0x90:
                answer = self._read(4)
                if answer[1] << 8 | answer[2] != pid:
                    raise MQTTException("SUBACK for packet %d, expected %d" % (answer[1] << 8 | answer[2], pid))
                if answer[3] == 0x80:
                    raise MQTTException(answer[3])
                return

    def wait_msg(self):
        """Read one packet: a PUBLISH goes to the callback (and is acknowledged at QoS 1).
        Returns the packet's first byte; None for PINGRESP (and for check_msg when nothing came).
        For PUBACK (0x40) and SUBACK (0x90) the rest of the packet is left to the caller."""
        first = self.sock.read(1)
        self.sock.setblocking(True)
        if first is None:
            return None
        if first == b"":
            raise OSError(-1)
        if first == b"\xd0":  # PINGRESP
            if self._read(1)[0] != 0:
                raise MQTTException("malformed PINGRESP")
            return None
        op = first[0]
        if op & 0xF0 != 0x30:
            return op
        size = self._recv_len()
        topic_length = self._read(2)
        topic_length = topic_length[0] << 8 | topic_length[1]
        topic = self._read(topic_length)
        size -= topic_length + 2
        pid = 0
        if op & 6:
            pid = self._read(2)
            pid = pid[0] << 8 | pid[1]
            size -= 2
        msg = self._read(size)
        self.cb(topic, msg)
        if op & 6 == 2:
            self._write(bytes((0x40, 0x02, pid >> 8, pid & 0xFF)))
        elif op & 6 == 4:
            raise MQTTException("QoS 2 messages are not supported")
        return op

    def check_msg(self):
        """wait_msg without waiting: None at once when nothing has arrived."""
        self.sock.setblocking(False)
        return self.wait_msg()

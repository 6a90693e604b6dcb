# tls of the esp32-ota virtual ESP32, as MicroPython v1.23's
# extmod/modtls_mbedtls.c: SSLContext and SSLSocket over a connected socket.
# The handshake and the encryption run on the host (node:tls); a certificate
# that does not verify raises the board's mbedTLS error,
# OSError(-9984, 'X509 - Certificate verification failed, ...').
import binascii
import json
import _esp32_net
import socket as _socket

PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
MBEDTLS_VERSION = "Mbed TLS (host node:tls)"


def _hex(data):
    if isinstance(data, str):
        data = data.encode()
    return binascii.hexlify(data).decode()


class SSLContext:
    def __init__(self, protocol):
        if protocol not in (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER):
            raise ValueError("invalid protocol")
        self.protocol = protocol
        # modtls_mbedtls.c: a client verifies by default, a server does not.
        self.verify_mode = CERT_REQUIRED if protocol == PROTOCOL_TLS_CLIENT else CERT_NONE
        self._cadata = None
        self._cert = None
        self._key = None

    def load_cert_chain(self, cert, key):
        self._cert = cert
        self._key = key

    def load_verify_locations(self, cadata):
        self._cadata = cadata

    def wrap_socket(self, sock, *, server_side=False, do_handshake_on_connect=True, server_hostname=None):
        options = {"serverSide": bool(server_side), "verifyMode": self.verify_mode}
        if server_hostname is not None:
            options["serverHostname"] = server_hostname
        if self._cadata:
            options["cadata"] = [_hex(self._cadata)]
        if self._cert:
            options["cert"] = _hex(self._cert)
        if self._key:
            options["key"] = _hex(self._key)
        answer = json.loads(_esp32_net.tls(sock._live(), json.dumps(options)))
        if not answer["ok"]:
            if answer.get("message") in ("invalid cert", "invalid key"):
                raise ValueError(answer["message"])
            _socket._raise(answer)
        secure = SSLSocket(_socket.AF_INET, _socket.SOCK_STREAM, 0, sock._id)
        secure._timeout = sock._timeout
        sock._id = None  # the TLS socket owns the connection now
        if do_handshake_on_connect:
            secure.do_handshake()
        return secure


class SSLSocket(_socket.socket):
    def do_handshake(self):
        _socket._wait({"op": "state", "id": self._live()}, -1 if self._timeout < 0 else self._timeout)

    def __repr__(self):
        return "<SSLSocket>"

    def getpeercert(self, binary_form=False):
        return None

    def cipher(self):
        return None

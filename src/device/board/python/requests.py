# requests of the esp32-ota virtual ESP32: the API and behaviour of the
# micropython-lib `requests` frozen into the ESP32 firmware of v1.23 (written
# anew for this project). As there: HTTP/1.0 with "Connection: close"; the
# body is read straight from the socket (Response.raw); redirects 301/302/303
# become GET, 307/308 repeat the method; a chunked response raises
# ValueError("Unsupported Transfer-Encoding: chunked"); https does not verify
# the server's certificate (CERT_NONE).
import socket


class Response:
    def __init__(self, stream):
        self.raw = stream
        self.encoding = "utf-8"
        self._cached = None

    def close(self):
        if self.raw:
            self.raw.close()
            self.raw = None
        self._cached = None

    @property
    def content(self):
        if self._cached is None:
            try:
                self._cached = self.raw.read()
            finally:
                self.raw.close()
                self.raw = None
        return self._cached

    @property
    def text(self):
        return str(self.content, self.encoding)

    def json(self):
        import json

        return json.loads(self.content)


def _split_url(url):
    parts = url.split("/", 3)
    if len(parts) < 3:
        raise ValueError("Unsupported protocol: " + parts[0])
    scheme, host = parts[0], parts[2]
    path = parts[3] if len(parts) > 3 else ""
    if scheme == "http:":
        port = 80
    elif scheme == "https:":
        port = 443
    else:
        raise ValueError("Unsupported protocol: " + scheme)
    if ":" in host:
        host, port = host.split(":", 1)
        port = int(port)
    return scheme, host, port, path


def _send_body(sock, data, chunked):
    if not data:
        return
    if not chunked:
        sock.write(data)
        return
    for piece in data:
        sock.write(b"%x\r\n" % len(piece))
        sock.write(piece)
        sock.write(b"\r\n")
    sock.write(b"0\r\n\r\n")


def request(method, url, data=None, json=None, headers={}, stream=None, auth=None, timeout=None, parse_headers=True):
    # As on the board, `headers` defaults to one shared dict, and auth= adds its Authorization to it.
    chunked = bool(data) and hasattr(data, "__next__") and not hasattr(data, "__len__")
    if auth is not None:
        import binascii

        user, password = auth
        token = binascii.b2a_base64(b"%s:%s" % (user, password))[:-1]
        headers["Authorization"] = "Basic %s" % str(token, "ascii")
    scheme, host, port, path = _split_url(url)
    address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(address[0], socket.SOCK_STREAM, address[2])
    if timeout is not None:
        sock.settimeout(timeout)
    fields = {} if parse_headers is not False else None
    redirect = None
    try:
        sock.connect(address[-1])
        if scheme == "https:":
            import tls

            context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            context.verify_mode = tls.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
        head = [b"%s /%s HTTP/1.0\r\n" % (method, path)]
        if "Host" not in headers:
            head.append(b"Host: %s\r\n" % host)
        for name in headers:
            head.append(b"%s: %s\r\n" % (name, headers[name]))
        if json is not None:
            assert data is None
            import json as _json

            data = _json.dumps(json)
            head.append(b"Content-Type: application/json\r\n")
        if data:
            head.append(b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % len(data))
        head.append(b"Connection: close\r\n\r\n")
        for line in head:
            sock.write(line)
        _send_body(sock, data, chunked)

        status_line = sock.readline().split(None, 2)
        if len(status_line) < 2:
            raise ValueError("HTTP error: BadStatusLine:\n%s" % status_line)
        status = int(status_line[1])
        reason = status_line[2].rstrip() if len(status_line) > 2 else ""
        while True:
            line = sock.readline()
            if not line or line == b"\r\n":
                break
            if line.startswith(b"Transfer-Encoding:"):
                if b"chunked" in line:
                    raise ValueError("Unsupported " + str(line, "utf-8"))
            elif line.startswith(b"Location:") and not 200 <= status <= 299:
                if status in (301, 302, 303, 307, 308):
                    redirect = str(line[10:-2], "utf-8")
                else:
                    raise NotImplementedError("Redirect %d not yet supported" % status)
            if parse_headers is True:
                name, value = str(line, "utf-8").split(":", 1)
                fields[name] = value.strip()
            elif parse_headers:
                parse_headers(line, fields)
    except OSError:
        sock.close()
        raise

    if redirect:
        sock.close()
        if status in (301, 302, 303):
            return request("GET", redirect, None, None, headers, stream)
        return request(method, redirect, data, json, headers, stream)
    response = Response(sock)
    response.status_code = status
    response.reason = reason
    if fields is not None:
        response.headers = fields
    return response


def head(url, **kw):
    return request("HEAD", url, **kw)


def get(url, **kw):
    return request("GET", url, **kw)


def post(url, **kw):
    return request("POST", url, **kw)


def put(url, **kw):
    return request("PUT", url, **kw)


def patch(url, **kw):
    return request("PATCH", url, **kw)


def delete(url, **kw):
    return request("DELETE", url, **kw)

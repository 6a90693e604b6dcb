# ota.http: a small HTTP/1.1 client for firmware downloads on a board with
# ~110 KB of free heap. The body is read straight into the caller's buffer
# (readinto); nothing is read whole except small JSON manifests.
# Copes with what real servers send: Content-Length or chunked bodies,
# keep-alive (one idle connection per host is reused), redirects (also to
# another host, as GitHub release downloads do; credentials are not sent on to
# another host), https, basic auth and bearer tokens. A body whose connection
# drops is continued with "Range: bytes=N-" (and If-Range: its ETag, so a file
# that changed meanwhile is never spliced), transparently to the reader.
import binascii

_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 5
_MAX_LINE = 2048
_idle = {}  # "scheme://host:port" -> socket kept alive after a complete response


class HTTPError(Exception):
    """The server answered with an HTTP status that is not a success."""

    def __init__(self, status, reason, url):
        super().__init__("HTTP %d %s for %s" % (status, reason, url))
        self.status = status


def _upto(buf, n):
    # buf itself when it is not longer than n: no new memoryview per read (the update's per-block garbage)
    return buf if len(buf) <= n else memoryview(buf)[:n]


def split_url(url):
    """(scheme, host, port, path, userinfo) of an http(s) URL."""
    colon = url.find("://")
    scheme = url[:colon].lower() if colon > 0 else ""
    if scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL: %s" % url)
    rest = url[colon + 3 :]
    slash = rest.find("/")
    netloc, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    userinfo = None
    at = netloc.rfind("@")
    if at >= 0:
        userinfo, netloc = netloc[:at], netloc[at + 1 :]
    port = 443 if scheme == "https" else 80
    close = netloc.rfind("]")
    colon = netloc.rfind(":")
    if colon > close:
        port = int(netloc[colon + 1 :])
        netloc = netloc[:colon]
    return scheme, netloc.strip("[]"), port, path, userinfo


def join_url(base, ref):
    """Resolve a Location header (absolute, host-relative or relative) against the URL it came from."""
    if ref.find("://") > 0:
        return ref
    scheme, host, port, path, _ = split_url(base)
    origin = "%s://%s:%d" % (scheme, host, port)
    if ref.startswith("//"):
        return scheme + ":" + ref
    if ref.startswith("/"):
        return origin + ref
    return origin + path[: path.rfind("/") + 1] + ref


def _basic(userinfo):
    return "Basic " + binascii.b2a_base64(userinfo.encode()).decode().strip()


def _connect(scheme, host, port, timeout, ca):
    import socket

    address = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(address[0], socket.SOCK_STREAM, address[2])
    try:
        sock.settimeout(timeout)
        sock.connect(address[-1])
        if scheme == "https":
            sock = _tls(sock, host, ca)
    except BaseException:
        sock.close()
        raise
    return sock


def _tls(sock, host, ca):
    """TLS over sock. With `ca` (DER bytes or a file name) the server's certificate is checked."""
    import ssl

    if isinstance(ca, str):
        with open(ca, "rb") as f:
            ca = f.read()
    if not hasattr(ssl, "SSLContext"):
        return ssl.wrap_socket(sock, server_hostname=host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        context.load_verify_locations(cadata=ca)
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(sock, server_hostname=host)


def _write_all(sock, data):
    view = memoryview(data)
    while view:
        n = sock.write(view)
        if n is None:  # a non-blocking TLS socket that wants to be called again
            continue
        view = view[n:]


def _readline(sock):
    line = sock.readline()
    if not line:
        raise OSError(104, "the server closed the connection")  # ECONNRESET: retried or resumed
    if len(line) > _MAX_LINE:
        raise ValueError("HTTP header line longer than %d bytes" % _MAX_LINE)
    return line


def close_idle():
    """Close the kept-alive connections."""
    for key in list(_idle):
        _idle.pop(key).close()


class Response:
    """One HTTP response. readinto() gives the body and resumes it after a dropped connection."""

    def __init__(self, request, sock, status, reason, headers):
        self._request = request
        self._sock = sock
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = request["url"]
        self.etag = headers.get("etag")
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length is not None and not self.chunked else None
        self._chunk = 0
        self._done = request["method"] == "HEAD" or status in (204, 304)
        self._keep = headers.get("connection", "").lower() != "close"
        self.position = request["start"]  # body bytes delivered so far, counted from the file's start
        self.total = self._total(headers)
        self.resumes = 0

    def _total(self, headers):
        content_range = headers.get("content-range")
        if content_range:
            size = content_range.split("/")[-1].strip()
            return int(size) if size != "*" else None
        if self._left is not None:
            return self.position + self._left
        return None

    def readinto(self, buf):
        """Fill buf with body bytes; 0 at the end. A dropped connection is resumed with Range."""
        while True:
            try:
                return self._readinto(buf)
            except OSError as error:
                if self._done or self.resumes >= self._request["resumes"]:
                    raise
                self._resume(error)

    def _readinto(self, buf):
        if self._done:
            return 0
        sock = self._sock
        if self.chunked:
            if self._chunk == 0:
                size = _readline(sock).split(b";")[0].strip()
                self._chunk = int(size, 16)
                if self._chunk == 0:
                    while _readline(sock) not in (b"\r\n", b"\n"):
                        pass  # trailers
                    return self._finish()
            n = sock.readinto(_upto(buf, self._chunk))
            if not n:
                raise OSError(104, "the server closed the connection inside a chunk")
            self._chunk -= n
            if self._chunk == 0:
                _readline(sock)  # the CRLF after the chunk
        elif self._left is not None:
            if self._left == 0:
                return self._finish()
            n = sock.readinto(_upto(buf, self._left))
            if not n:
                raise OSError(104, "the server closed the connection after %d of %d bytes" % (self.position, self.total))
            self._left -= n
        else:
            n = sock.readinto(buf)
            if not n:
                self._keep = False
                return self._finish()
        self.position += n
        return n

    def _finish(self):
        self._done = True
        self.close()
        return 0

    def _resume(self, error):
        self.resumes += 1
        self._keep = False
        self.close()
        request = self._request
        if request["verbose"]:
            print("\nConnection lost at byte %d (%s); resuming with Range: bytes=%d-" % (self.position, error, self.position))
        headers = dict(request["headers"])
        headers["Range"] = "bytes=%d-" % self.position
        if self.etag:
            headers["If-Range"] = self.etag
        options = {"timeout": request["timeout"], "ca": request["ca"], "resumes": request["resumes"], "verbose": request["verbose"]}
        fresh = _request("GET", self.url, headers, options, self.position)
        if fresh.status != 206 or fresh._total(fresh.headers) != self.total:
            fresh.close()
            raise OSError(error.args[0] if error.args else 104, "download broke at byte %d and the server cannot resume it (HTTP %d%s)" % (self.position, fresh.status, ", the file changed" if fresh.status == 200 and self.etag else ""))
        content_range = fresh.headers.get("content-range", "")
        first = content_range.split(" ")[-1].split("-")[0]
        if not first.isdigit() or int(first) != self.position:
            fresh.close()
            raise OSError(104, "the server resumed at the wrong place: Content-Range: %s" % content_range)
        self._sock, self.chunked, self._left, self._chunk, self._keep = fresh._sock, fresh.chunked, fresh._left, 0, fresh._keep
        fresh._sock = None

    def read(self, limit=8192):
        """The whole body as bytes, for small documents (a manifest); ValueError if longer than limit."""
        data = bytearray()
        buf = bytearray(512)
        while True:
            n = self.readinto(buf)
            if not n:
                return bytes(data)
            data.extend(memoryview(buf)[:n])
            if len(data) > limit:
                self.close()
                raise ValueError("%s is longer than %d bytes" % (self.url, limit))

    def close(self):
        sock, self._sock = self._sock, None
        if sock is None:
            return
        key = self._request["key"]
        if self._done and self._keep and key not in _idle:
            _idle[key] = sock
        else:
            sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def request(url, method="GET", headers=None, auth=None, token=None, timeout=20, ca=None, start=0, resumes=5, verbose=False):
    """Send one request (following redirects) and return the Response once its headers are in.

    auth=(user, password) sends basic auth, token="..." a bearer token;
    start=N asks for the body from byte N (Range); resumes is how many times a
    dropped body is continued. Raises HTTPError for a status that is not 2xx.
    """
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = _basic("%s:%s" % tuple(auth))
    elif token:
        headers["Authorization"] = "Bearer " + token
    if start:
        headers["Range"] = "bytes=%d-" % start
    options = {"timeout": timeout, "ca": ca, "resumes": resumes, "verbose": verbose}
    for _ in range(_MAX_REDIRECTS + 1):
        response = _request(method, url, headers, options, start)
        if response.status not in _REDIRECTS:
            if not 200 <= response.status < 300:
                response.close()
                raise HTTPError(response.status, response.reason, url)
            return response
        location = response.headers.get("location")
        response.close()
        if not location:
            raise HTTPError(response.status, response.reason + " without a Location", url)
        target = join_url(url, location)
        if split_url(target)[1:3] != split_url(url)[1:3]:
            headers.pop("Authorization", None)  # never hand credentials to another host
        if verbose:
            print("Redirected to %s" % target)
        if response.status == 303:
            method = "GET"
        url = target
    raise ValueError("more than %d redirects from %s" % (_MAX_REDIRECTS, url))


def _request(method, url, headers, options, start):
    scheme, host, port, path, userinfo = split_url(url)
    headers = dict(headers)
    if userinfo and "Authorization" not in headers:
        headers["Authorization"] = _basic(userinfo)
    key = "%s://%s:%d" % (scheme, host, port)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % (host if port in (80, 443) else "%s:%d" % (host, port)), "User-Agent: esp32-ota", "Accept-Encoding: identity"]
    for name in headers:
        lines.append("%s: %s" % (name, headers[name]))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    request = {"url": url, "method": method, "headers": headers, "key": key, "start": start}
    request.update(options)
    for attempt in (0, 1):
        reused = key in _idle
        sock = _idle.pop(key) if reused else _connect(scheme, host, port, options["timeout"], options["ca"])
        try:
            _write_all(sock, head)
            status_line = _readline(sock)
            break
        except OSError:
            sock.close()
            if not reused or attempt:
                raise  # a kept-alive connection the server had closed: one new try
    parts = status_line.decode().strip().split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        sock.close()
        raise ValueError("not an HTTP response from %s: %r" % (url, status_line[:60]))
    received = {}
    while True:
        line = _readline(sock)
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        received[name.strip().lower()] = value.strip()
    status = int(parts[1])
    return Response(request, sock, status, parts[2] if len(parts) > 2 else "", received)

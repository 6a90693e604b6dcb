# mip of the esp32-ota virtual ESP32: the API and messages of the
# micropython-lib `mip` frozen into the v1.23 ESP32 firmware (written anew for
# this project). install(name_or_url, index=, target=, version=, mpy=):
# package.json files with "hashes" (from the index), "urls" (absolute,
# github:/gitlab:, or relative to the package.json) and "deps"; the target is
# the first sys.path entry ending in /lib. Failures print and return, as v1.23.
import sys
import requests

_PACKAGE_INDEX = "https://micropython.org/pi/v2"
_CHUNK_SIZE = 128
_URL_PREFIXES = ("http://", "https://", "github:", "gitlab:")


def _make_parent_directories(path):
    import os

    parts = path.split("/")[:-1]
    prefix = ""
    for index, part in enumerate(parts):
        if index == 0 and part == "":
            prefix = "/"
            continue
        prefix += part
        try:
            os.stat(prefix)
        except OSError:
            os.mkdir(prefix)
        prefix += "/"


def _copy(source, sink):
    buffer = memoryview(bytearray(_CHUNK_SIZE))
    while True:
        count = source.readinto(buffer)
        if not count:
            return
        sink(buffer if count == _CHUNK_SIZE else buffer[:count])


def _has_hash(path, short_hash):
    import binascii
    import hashlib

    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            _copy(f, digest.update)
    except OSError:
        return False
    return str(binascii.hexlify(digest.digest())[: len(short_hash)], "utf-8") == short_hash


def _expand_url(url, branch=None):
    branch = branch or "HEAD"
    for prefix, template in (("github:", "https://raw.githubusercontent.com/%s/%s/%s/%s"), ("gitlab:", "https://gitlab.com/%s/%s/-/raw/%s/%s")):
        if url.startswith(prefix):
            owner, repo, path = url[len(prefix):].split("/", 2)
            return template % (owner, repo, branch, path)
    return url


def _download(url, destination):
    response = requests.get(url)
    try:
        if response.status_code != 200:
            print("Error", response.status_code, "requesting", url)
            return False
        print("Copying:", destination)
        _make_parent_directories(destination)
        with open(destination, "wb") as f:
            _copy(response.raw, f.write)
        return True
    finally:
        response.close()


def _install_from_json(json_url, index, target, version, mpy):
    response = requests.get(_expand_url(json_url, version))
    try:
        if response.status_code != 200:
            print("Package not found:", json_url)
            return False
        package = response.json()
    finally:
        response.close()
    for path, short_hash in package.get("hashes", ()):
        destination = target + "/" + path
        if _has_hash(destination, short_hash):
            print("Exists:", destination)
        elif not _download("%s/file/%s/%s" % (index, short_hash[:2], short_hash), destination):
            print("File not found: %s %s" % (path, short_hash))
            return False
    base = json_url.rpartition("/")[0]
    for path, url in package.get("urls", ()):
        if not url.startswith(_URL_PREFIXES):
            url = base + "/" + url
        if not _download(_expand_url(url, version), target + "/" + path):
            print("File not found: %s %s" % (path, url))
            return False
    for dependency, dependency_version in package.get("deps", ()):
        if not _install(dependency, index, target, dependency_version, mpy):
            return False
    return True


def _install(package, index, target, version, mpy):
    if package.startswith(_URL_PREFIXES):
        if package.endswith(".py") or package.endswith(".mpy"):
            print("Downloading %s to %s" % (package, target))
            return _download(_expand_url(package, version), target + "/" + package.rsplit("/")[-1])
        if not package.endswith(".json"):
            package = package.rstrip("/") + "/package.json"
        print("Installing %s to %s" % (package, target))
    else:
        version = version or "latest"
        print("Installing %s (%s) from %s to %s" % (package, version, index, target))
        mpy_version = sys.implementation._mpy & 0xFF if mpy and hasattr(sys.implementation, "_mpy") else "py"
        package = "%s/package/%s/%s/%s.json" % (index, mpy_version, package, version)
    return _install_from_json(package, index, target, version, mpy)


def install(package, index=None, target=None, version=None, mpy=True):
    if not target:
        for path in sys.path:
            if path.endswith("/lib"):
                target = path
                break
        else:
            print("Unable to find lib dir in sys.path")
            return
    if _install(package, (index or _PACKAGE_INDEX).rstrip("/"), target, version, mpy):
        print("Done")
    else:
        print("Package may be partially installed")

# select of the esp32-ota virtual ESP32: poll() and select() over the board's
# sockets, sys.stdin (the UART) and any other stream, waiting without
# spinning: the host wakes the interpreter when a socket changes or the UART
# receives, as the board's poll wakes on lwIP and UART events (on a
# board-faithful UART console, stdin alone is seen at the next tick).
import json
import sys
import select as _select
import _esp32_hw

POLLIN = 0x01
POLLOUT = 0x04
POLLERR = 0x08
POLLHUP = 0x10
# Other streams are asked this often while waiting (they cannot ring the doorbell).
_OTHER_STREAM_POLL_MS = 10


def _esp32_net():
    # Only a board with a network has sockets (and this module).
    import _esp32_net

    return _esp32_net


def _is_stdin(obj):
    return obj is sys.stdin or obj is getattr(sys.stdin, "buffer", None) or obj == 0


class poll:
    def __init__(self):
        self._entries = []  # [obj, eventmask]

    def _find(self, obj):
        for entry in self._entries:
            if entry[0] is obj:
                return entry
        return None

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        entry = self._find(obj)
        if entry:
            entry[1] = eventmask
        else:
            self._entries.append([obj, eventmask])

    def unregister(self, obj):
        entry = self._find(obj)
        if entry:
            self._entries.remove(entry)

    def modify(self, obj, eventmask):
        entry = self._find(obj)
        if entry is None:
            raise OSError(2)  # ENOENT, as the board
        entry[1] = eventmask

    def poll(self, timeout=-1):
        return [(obj, events) for obj, events in self._ready(timeout)]

    def ipoll(self, timeout=-1, flags=0):
        for obj, events in self._ready(timeout):
            if flags & 1:
                self.modify(obj, 0)
            yield (obj, events)

    def _ready(self, timeout):
        timeout = -1 if timeout is None or timeout < 0 else int(timeout)
        sockets = []
        stdin_events = 0
        others = []
        for obj, mask in self._entries:
            if hasattr(obj, "_id") and obj._id is not None:
                sockets.append((obj, mask))
            elif _is_stdin(obj):
                stdin_events |= mask
            elif mask:
                others.append((obj, mask))
        if not sockets and not others:
            # stdin alone: wait as the board's main task does (on a UART console, until a tick).
            ready = stdin_events & POLLOUT
            if stdin_events & POLLIN and _esp32_hw.stdin_poll(0 if ready else timeout):
                ready |= POLLIN
            return [(obj, ready & mask) for obj, mask in self._entries if ready & mask]
        if not sockets:
            # No board sockets: the build's own poll serves stdin and other streams.
            return self._others_ready([(obj, mask) for obj, mask in self._entries if mask], timeout)
        request = json.dumps([[obj._id, mask] for obj, mask in sockets])
        waited = 0
        while True:
            step = timeout
            if others:
                step = _OTHER_STREAM_POLL_MS if timeout < 0 else min(_OTHER_STREAM_POLL_MS, timeout - waited)
            ready_sockets, stdin_ready = json.loads(_esp32_net().poll(request, stdin_events, step))
            found = [(obj, ready) for (obj, _), ready in zip(sockets, ready_sockets) if ready]
            if stdin_ready:
                found += [(obj, stdin_ready & mask) for obj, mask in self._entries if _is_stdin(obj) and stdin_ready & mask]
            found += self._others_ready(others)
            if found or not others:
                return found
            waited += step
            if 0 <= timeout <= waited:
                return found

    @staticmethod
    def _others_ready(others, timeout=0):
        if not others:
            return []
        poller = _select.poll()
        for obj, mask in others:
            poller.register(obj, mask)
        return poller.poll(timeout)


def select(rlist, wlist, xlist, timeout=None):
    poller = poll()
    for obj in rlist:
        poller.register(obj, POLLIN)
    for obj in wlist:
        entry = poller._find(obj)
        if entry:
            entry[1] |= POLLOUT
        else:
            poller.register(obj, POLLOUT)
    for obj in xlist:
        if poller._find(obj) is None:
            poller.register(obj, 0)
    ready = poller.poll(-1 if timeout is None else int(timeout * 1000))
    readable = [obj for obj, events in ready if events & (POLLIN | POLLHUP | POLLERR) and obj in rlist]
    writable = [obj for obj, events in ready if events & (POLLOUT | POLLHUP | POLLERR) and obj in wlist]
    broken = [obj for obj, events in ready if events & POLLERR and obj in xlist]
    return readable, writable, broken

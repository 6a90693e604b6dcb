# ntptime of the esp32-ota virtual ESP32: the API of micropython-lib's ntptime
# (host, timeout, time(), settime()). One SNTP request over UDP port 123 of
# `host`; time() is seconds since this board's epoch (time.gmtime(0)).
import socket
import struct
import time as _time

host = "pool.ntp.org"
timeout = 1

# Seconds from 1900-01-01 (NTP) to 1970-01-01 and to 2000-01-01.
_NTP_TO_1970 = 2208988800
_NTP_TO_2000 = 3155673600


def time():
    query = bytearray(48)
    query[0] = 0x1B  # version 3, client
    address = socket.getaddrinfo(host, 123)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(query, address)
        reply = s.recv(48)
    finally:
        s.close()
    seconds = struct.unpack("!I", reply[40:44])[0]
    return seconds - (_NTP_TO_2000 if _time.gmtime(0)[0] == 2000 else _NTP_TO_1970)


def settime():
    import machine

    t = time()
    tm = _time.gmtime(t)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))

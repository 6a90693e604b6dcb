# network of the esp32-ota virtual ESP32: the Wi-Fi station of MicroPython
# v1.23's ports/esp32/network_wlan.c, connected to a virtual access point
# (`esp32-ota sim --wifi SSID:KEY`; HostNetwork's accessPoint in tests).
# Connecting takes no time: connect() either connects at once or leaves the
# status the board reports for that failure.
import json
import _esp32_net

STA_IF = 0
AP_IF = 1

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204

AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7
AUTH_WAPI_PSK = 8
AUTH_OWE = 9
AUTH_MAX = 10

MODE_11B = 1
MODE_11G = 2
MODE_11N = 4
MODE_LR = 8

_hostname = "mpy-esp32"


def _wlan(action, **fields):
    fields["op"] = "wlan"
    fields["action"] = action
    answer = json.loads(_esp32_net.call(json.dumps(fields)))
    if not answer["ok"]:
        raise OSError(answer.get("message") or answer["errno"])
    return answer["value"]


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


class WLAN:
    def __init__(self, interface_id=STA_IF):
        if interface_id != STA_IF:
            raise ValueError("the virtual board has only the station interface (STA_IF)")

    def active(self, is_active=None):
        if is_active is None:
            return _wlan("status")["active"]
        _wlan("active", on=bool(is_active))
        return bool(is_active)

    def connect(self, ssid=None, key=None, *, bssid=None):
        _wlan("connect", ssid=ssid or "", key=key or "")

    def disconnect(self):
        _wlan("disconnect")

    def isconnected(self):
        return _wlan("status")["connected"]

    def status(self, param=None):
        state = _wlan("status")
        if param is None:
            return state["status"]
        if param == "rssi":
            if not state["connected"]:
                raise OSError("STA is not connected")
            return state["rssi"]
        raise ValueError("unknown status param")

    def scan(self):
        # (ssid, bssid, channel, RSSI, security, hidden)
        return [(ssid.encode(), bytes(_wlan("status")["mac"]), channel, rssi, auth, False) for ssid, channel, rssi, auth in _wlan("scan")]

    def ifconfig(self, config=None):
        if config is not None:
            raise OSError("the virtual board's address is fixed")
        return tuple(_wlan("status")["ifconfig"])

    def ipconfig(self, name):
        state = _wlan("status")
        if name == "addr4":
            return (state["ifconfig"][0], state["ifconfig"][1])
        if name == "gw4":
            return state["ifconfig"][2]
        if name == "dhcp4":
            return True
        raise ValueError("unexpected key")

    def config(self, *args, **kwargs):
        if kwargs:
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        state = _wlan("status")
        name = args[0]
        if name == "mac":
            return bytes(state["mac"])
        if name in ("ssid", "essid"):
            return state["ssid"]
        if name in ("hostname", "dhcp_hostname"):
            return _hostname
        if name == "channel":
            return 6
        if name == "txpower":
            return 20
        if name == "pm":
            return 1
        raise ValueError("unknown config param")

    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

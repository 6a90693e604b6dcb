# esp32-ota update --pull, the board's side: the board's ota package downloads
# and writes the firmware itself. Lines for the host start with \x01: progress
# (written, total, downloaded, ms) and the result as JSON. The host appends one
# call, e.g. _esp32_ota_pull("http://.../micropython.json", {...}).
def _esp32_ota_pull(source, options):
    import json
    import time

    import ota.update

    start = time.ticks_ms()
    shown = [start]
    request = options.get("request", {})
    if "auth" in request:
        request["auth"] = tuple(request["auth"])

    def progress(written, total):
        now = time.ticks_ms()
        if time.ticks_diff(now, shown[0]) >= 250 or written == total:
            shown[0] = now
            print("\x01progress %d %d %d %d" % (written, total, updater.downloaded, time.ticks_diff(now, start)))

    updater = ota.update.OTA(verify=True, verbose=True, reboot=False, sha=options.get("sha", ""), length=options.get("length", 0), progress=progress)
    with updater:
        if source.endswith(".json"):
            changed = updater.from_json(source, force=options.get("force", False), **request)
        else:
            updater.from_firmware_file(source, **request)
            changed = True
    result = {"changed": changed, "target": updater.label, "written": updater.written, "downloaded": updater.downloaded, "sha": updater.digest, "version": updater.version, "ms": time.ticks_diff(time.ticks_ms(), start)}
    print("\x01result " + json.dumps(result))

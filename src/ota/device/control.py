# esp32-ota rollback, the board's side: the seed's ota.rollback.cancel/force/cancel_force.
# The host appends one call, e.g. _esp32_ota_control("cancel"), and reads one JSON line.
def _esp32_ota_control(action):
    import json

    import esp32

    Partition = esp32.Partition
    result = {"action": action}
    if action == "cancel":
        try:
            Partition.mark_app_valid_cancel_rollback()
            result["confirmed"] = True
        except OSError as error:
            if error.args[0] != -261:  # ESP_ERR_NOT_FOUND: no rollback support (no otadata)
                raise
            result["confirmed"] = False
    else:
        running = Partition(Partition.RUNNING)
        target = running
        if action == "force":
            slots = [p for p in Partition.find(Partition.TYPE_APP) if 0x10 <= p.info()[1] < 0x20]
            slots.sort(key=lambda p: p.info()[1])
            labels = [p.info()[4] for p in slots]
            if running.info()[4] not in labels:
                raise OSError(-261, "ESP_ERR_NOT_FOUND")  # the running app is not an OTA app
            target = slots[labels.index(running.info()[4]) - 1]
        try:
            target.set_boot()
            result["boot"] = target.info()[4]
        except OSError as error:
            if error.args[0] != -5379:  # ESP_ERR_OTA_VALIDATE_FAILED: no valid app image there
                raise
            result["invalid"] = target.info()[4]
    print(json.dumps(result))

# ota.rollback: confirm the running firmware, or switch back to the previous one.
from esp32 import Partition

_ESP_ERR_NOT_FOUND = -261


def cancel():
    """Tell the bootloader to keep the running firmware (call it on every good boot)."""
    try:
        Partition.mark_app_valid_cancel_rollback()
    except OSError as error:
        if error.args[0] != _ESP_ERR_NOT_FOUND:
            raise
        print("Rollback is not supported by this bootloader (no otadata): nothing to cancel.")


def _boot(partition, reboot):
    partition.set_boot()
    print("Micropython will boot from '%s' partition on next boot." % partition.info()[4])
    if reboot:
        import machine

        machine.reset()


def force(reboot=False):
    """Boot the previous OTA partition (by subtype order) at the next reset."""
    from .status import ota_partitions

    running = Partition(Partition.RUNNING)
    slots = ota_partitions()
    labels = [p.info()[4] for p in slots]
    if running.info()[4] not in labels:
        raise OSError(_ESP_ERR_NOT_FOUND, "the running partition is not an OTA partition")
    _boot(slots[labels.index(running.info()[4]) - 1], reboot)


def cancel_force(reboot=False):
    """Boot the running partition again at the next reset (undoes force() or a pending update)."""
    _boot(Partition(Partition.RUNNING), reboot)

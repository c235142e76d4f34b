"""One libtorrent peer for tests/real_client: seeds or downloads one torrent in one directory.

Run it with Debian's /usr/bin/python3 (python3-libtorrent lives in its dist-packages). The
peer can reach and be reached on loopback only, and learns of other peers through the
torrent's trackers alone: DHT, local peer discovery, UPnP and NAT-PMP are off.

    libtorrent_client.py --role seed|leech --torrent FILE --dir DIR --log FILE

A leecher exits 0 once it has the whole file and the tracker has answered its `completed`
and then its `stopped`; a seeder seeds until it is killed. Both exit when their parent
dies, so a test that dies without running its guards leaves no client behind. Every alert is
written to the log, where a failing test shows why a peer did not announce or connect.
"""

import argparse
import os
import sys
import time

import libtorrent as lt

# What the log shows: enough to follow announces, connections and checks, without the
# per-block and per-message noise of the peer and picker logs.
ALERT_MASK = (
    lt.alert.category_t.error_notification
    | lt.alert.category_t.status_notification
    | lt.alert.category_t.tracker_notification
    | lt.alert.category_t.connect_notification
    | lt.alert.category_t.peer_notification
    | lt.alert.category_t.storage_notification
    | lt.alert.category_t.ip_block_notification
    | lt.alert.category_t.performance_warning
    | lt.alert.category_t.session_log_notification
    | lt.alert.category_t.torrent_log_notification
)

# How long one wait for alerts lasts; also how often the parent is checked.
POLL_SECONDS = 0.2

# Exit statuses besides 0 (a leecher done), so a failing test tells the causes apart.
EXIT_TORRENT_ERROR = 2
EXIT_PARENT_GONE = 3


def settings():
    """A session that talks to loopback only and finds peers only through trackers."""
    return {
        # Port 0: the system picks one, and the announce tells the tracker which.
        "listen_interfaces": "127.0.0.1:0",
        # Outgoing peer connections from loopback too, not from the default route's address.
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # No thread watching for network changes: nothing here changes.
        "enable_ip_notifier": False,
        # Both peers are 127.0.0.1; by default libtorrent keeps one connection per address.
        "allow_multiple_connections_per_ip": True,
        "alert_mask": ALERT_MASK,
    }


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["seed", "leech"], required=True)
    parser.add_argument("--torrent", required=True, help="the .torrent file")
    parser.add_argument("--dir", required=True, help="where the content is or goes")
    parser.add_argument("--log", required=True, help="the file every alert is written to")
    return parser.parse_args()


class AlertLog:
    """Writes each alert as one line, flushed at once: a killed seeder's log is still whole."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1, encoding="utf-8")
        self.started = time.monotonic()

    def write(self, text):
        self.file.write(f"{time.monotonic() - self.started:8.3f} {text}\n")


def main():
    arguments = parse_arguments()
    log = AlertLog(arguments.log)
    # A parent that dies hands its children to another process: the parent id changes.
    parent = os.getppid()

    session = lt.session(settings())
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(arguments.torrent)
    params.save_path = arguments.dir
    torrent = session.add_torrent(params)
    log.write(f"started as {arguments.role}, info hash {torrent.info_hash()}")

    leecher = Leecher(torrent, log) if arguments.role == "leech" else None
    while True:
        if os.getppid() != parent:
            log.write("parent gone: exiting")
            # At once: a normal exit closes the session gracefully, which waits on trackers
            # (up to stop_tracker_timeout) that may be gone with the parent.
            os._exit(EXIT_PARENT_GONE)
        session.wait_for_alert(int(POLL_SECONDS * 1000))
        for alert in session.pop_alerts():
            log.write(f"{alert.what()}: {alert.message()}")
            if isinstance(alert, lt.torrent_error_alert):
                return EXIT_TORRENT_ERROR
            if leecher is not None and leecher.done_after(alert):
                return 0


class Leecher:
    """Follows a download to its end: finished, `completed` answered, `stopped` answered."""

    def __init__(self, torrent, log):
        self.torrent = torrent
        self.log = log
        self.completed_sent = False
        self.stopping = False
        self.stopped_sent = False

    def done_after(self, alert):
        """Takes the next alert; True once the tracker has answered `stopped`.

        libtorrent announces `completed` as soon as the last piece is checked."""
        if isinstance(alert, lt.tracker_announce_alert):
            if alert.event == lt.event_t.completed:
                self.completed_sent = True
            elif alert.event == lt.event_t.stopped and self.stopping:
                self.stopped_sent = True
        elif isinstance(alert, lt.tracker_reply_alert):
            if self.stopped_sent:
                return True
            if self.completed_sent and not self.stopping:
                self.log.write("download complete and announced: pausing, which says stopped")
                # Pausing announces `stopped` and posts the answer. Not removing the torrent
                # or closing the session: those send `stopped` too, but nothing says when it
                # has left, and a session closed at once drops it (libtorrent 2.0.8,
                # udp://). Not auto-managed, or the session would resume it.
                self.torrent.unset_flags(lt.torrent_flags.auto_managed)
                self.torrent.pause()
                self.stopping = True
        return False


if __name__ == "__main__":
    sys.exit(main())

"""I/O. The Treadwell daemon: configuration, MQTT, scheduling, the CLI and the wiring."""

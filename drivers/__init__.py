"""Bluetooth LE: pure codecs for FTMS, heart rate and RSC, bleak links, and the virtual world."""

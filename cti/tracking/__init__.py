"""Building blocks of the call tracker (``cti.tracker``): model, dialplan config, event handlers."""

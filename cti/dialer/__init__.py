"""The outbound dialer: a pure pacing core (``pacing``) and the asyncio shell that dials (``shell``)."""

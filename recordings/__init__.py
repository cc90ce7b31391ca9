"""Recordings and voicemail audio: the index, playback (transcoding, HTTP Range), access, retention."""

"""RAW decoding and rendering (the forward ISP), and the inverse ISP that makes sample RAWs."""

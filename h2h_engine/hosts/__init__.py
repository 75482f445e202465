"""Ways hosts drive the engine besides node commands: the ffmpeg-style raw-frame filter."""

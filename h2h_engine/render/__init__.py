"""Conditioning images from tracks: rasterizer (``raster``), NMFC (``nmfc``), eye images (``eyes``), masks and
mouth boxes (``mask``), facial flow (``flow``), crop boxes (``crop``) and all of them at once
(``conditioning.render_conditioning``)."""

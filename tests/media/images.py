"""Test images made with Pillow: real bytes of each format, optionally with a GPS position in EXIF."""
import io
import os

from PIL import Image

GPS_IFD = 0x8825


def image_bytes(fmt="JPEG", size=(64, 48), gps=False, mode="RGB", color="red", noise=False):
    if noise:  # incompressible, so the file is as large as the picture
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new(mode, size, color)
    options = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        exif[GPS_IFD] = {1: "N", 2: (29.0, 22.0, 1.5), 3: "E", 4: (112.0, 24.0, 2.5)}
        options["exif"] = exif.tobytes()
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def upload(client, headers, data, name="photo.jpg"):
    return client.post("/api/v1/uploads", data={"file": (io.BytesIO(data), name)}, headers=headers,
                       content_type="multipart/form-data")

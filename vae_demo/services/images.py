"""Images in and out of the app: tensors ↔ display arrays, user uploads, grids and animated GIFs.

Every upload path of the app (file upload, drawing canvas, clipboard) goes through
:func:`load_user_image`, which either returns a float tensor the models accept together with a
one-line note of what it did, or raises :class:`UserInputError` with a one-line message a person
can act on. Nothing here raises anything else for bad input.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from vae_demo.language import _
from vae_demo.services.errors import UserInputError

DISPLAY_SIZE = 224  # tiny images are upscaled (nearest) to about this many pixels for a projector
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # above this PIL raises DecompressionBombError (we turn it into a message)
MAX_DRAWING_PIXELS = 4_000_000  # the drawing canvas is 280×280: a "drawing" bigger than 2000×2000 is not one


# --- tensors ↔ display arrays ---------------------------------------------------------------------

def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """One image (C, H, W) or (1, C, H, W) in [0, 1] → uint8 (H, W) for grey, (H, W, 3) for colour."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4:
        x = x[0]
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)
    x = np.nan_to_num(x, nan=0.0)
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upscale(img: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so the longer side is about ``size`` pixels."""
    h, w = img.shape[:2]
    f = max(1, size // max(h, w))
    if f == 1:
        return img
    return np.repeat(np.repeat(img, f, axis=0), f, axis=1)


def display(x: torch.Tensor | np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """A model image (C, H, W) in [0, 1] → an upscaled uint8 array ready for ``gr.Image``."""
    return upscale(to_uint8(x), size)


HIGHLIGHT = (40, 160, 70)  # frame of a highlighted panel (the best restoration of a row)
HIGHLIGHT_STRIP = (205, 240, 210)


# Pillow's bundled font (Aileron) has Latin letters only: symbols of our captions are spelt out
CAPTION_ASCII = str.maketrans({"σ": "sigma", "×": "x", "—": "-", "–": "-", "β": "beta", "ε": "eps",
                               "μ": "mu", "★": "*", "≤": "<=", "≥": ">="})


def caption_text(text) -> str:
    """``text`` as the caption font can draw it (symbols spelt out)."""
    return str(text).translate(CAPTION_ASCII)


def caption_font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow: fixed bitmap font
        return ImageFont.load_default()


def captioned(img: np.ndarray, lines: list[str], font_size: int = 15, highlight: bool = False) -> np.ndarray:
    """``img`` (uint8, grey or RGB) with the text ``lines`` on a white strip below it, so numbers stay
    readable on a projector and in screenshots (gallery captions get cut off). ``highlight``: a green
    strip and frame (drawn, since the bundled font has no symbols such as ★)."""
    rgb = np.stack([img] * 3, -1) if img.ndim == 2 else img
    h, w = rgb.shape[:2]
    font = caption_font(font_size)
    lines = [caption_text(t) for t in lines]
    line_h = font_size + 4
    total_h = h + line_h * len(lines) + 6
    side = max(w, total_h)  # square, so galleries' square thumbnails show all of it
    canvas = Image.new("RGB", (side, side), HIGHLIGHT_STRIP if highlight else "white")
    canvas.paste(Image.fromarray(rgb), ((side - w) // 2, 0))
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(lines):
        while text and draw.textlength(text, font=font) > side - 6:
            text = text[:-2] + "…" if len(text) > 2 else ""
        draw.text((3, h + 3 + i * line_h), text, fill="black", font=font)
    if highlight:
        draw.rectangle((0, 0, side - 1, side - 1), outline=HIGHLIGHT, width=max(3, side // 70))
    return np.asarray(canvas)


def grid(images: torch.Tensor, ncols: int, pad: int = 1, pad_value: float = 0.35) -> torch.Tensor:
    """Tile a batch (N, C, H, W) into one image (C, H', W') with ``pad`` pixels of grey between."""
    n, c, h, w = images.shape
    ncols = max(1, min(int(ncols), n)) if n else 1
    nrows = max(1, math.ceil(n / ncols))
    out = torch.full((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value)
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        out[:, top:top + h, left:left + w] = images[i].detach().float().cpu().clamp(0, 1)
    return out


def write_gif(frames: list[np.ndarray], path: str | os.PathLike, duration_ms: int = 150,
              bounce: bool = False) -> Path:
    """Write uint8 frames as a looping animated GIF. Each frame gets a thin progress bar along its
    bottom edge (so no two frames are identical and PIL never merges them); with ``bounce`` the
    path is played forth and back. Returns the path."""
    if not frames:
        raise UserInputError(_("no frames to write"))
    n = len(frames)
    marked = []
    for i, f in enumerate(frames):
        f = np.array(f, dtype=np.uint8, copy=True)
        if f.ndim == 2:
            f = np.stack([f] * 3, axis=-1)
        h, w = f.shape[:2]
        bar = max(2, h // 50)
        f[h - bar:, :, :] = (40, 40, 40)
        f[h - bar:, : max(1, round(w * (i + 1) / n)), :] = (255, 160, 0)
        marked.append(Image.fromarray(f))
    seq = marked + (marked[-2:0:-1] if bounce and n > 2 else [])
    path = Path(path)
    seq[0].save(path, format="GIF", save_all=True, append_images=seq[1:], duration=int(duration_ms),
                loop=0, disposal=1, optimize=False)
    return path


# --- user uploads -----------------------------------------------------------------------------------

@dataclass
class UserImage:
    x: torch.Tensor  # (1, C, H, W) float in [0, 1], the model's size
    note: str  # one line: what was done to fit it


def _too_large(max_pixels: int, size: tuple[int, int] | None = None) -> UserInputError:
    got = f" ({size[0]}×{size[1]})" if size else ""
    return UserInputError(_("the image{size} is too large to open safely (over {n:g} million pixels): shrink it "
                            "first", size=got, n=max_pixels / 1e6))


def _source_bytes(src) -> bytes:
    """The bytes of an upload: a path, bytes, a gradio FileData-like dict or a tempfile-like object."""
    if isinstance(src, dict) and "path" in src:  # gradio FileData-like dict
        src = src["path"]
    if hasattr(src, "name") and not isinstance(src, (str, bytes, os.PathLike)):
        src = src.name  # tempfile-like objects
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise UserInputError(_("no such file: {name}", name=path.name[:40]))
        size = path.stat().st_size
        if size == 0:
            raise UserInputError(_("{name} is empty (0 bytes)", name=path.name[:40]))
        if size > MAX_UPLOAD_BYTES:
            raise UserInputError(_("{name} is {mb:.0f} MB; the limit is {limit} MB", name=path.name[:40],
                                   mb=size / 2**20, limit=MAX_UPLOAD_BYTES // 2**20))
        data = path.read_bytes()
    else:
        raise UserInputError(_("not an image: expected an uploaded file, got {got}", got=type(src).__name__))
    if not data:
        raise UserInputError(_("the file is empty (0 bytes)"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserInputError(_("the file is {mb:.0f} MB; the limit is {limit} MB", mb=len(data) / 2**20,
                               limit=MAX_UPLOAD_BYTES // 2**20))
    return data


def _open_header(data: bytes, max_pixels: int) -> Image.Image:
    """Open ``data`` reading only its header; refuse what is not an image or has too many pixels.

    Nothing is decoded here: a 100 kB PNG can claim 10000×10000 pixels (400 MB once decoded).
    No global PIL setting is touched (uploads are handled on many threads)."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        raise UserInputError(_("SVG drawings are not supported: export it as PNG or JPEG first"))
    try:
        im = Image.open(io.BytesIO(data))  # may warn (DecompressionBombWarning) in the log: fine
    except Image.DecompressionBombError:
        raise _too_large(max_pixels) from None
    except UnidentifiedImageError:
        raise UserInputError(_("this file is not an image PIL can read (use PNG, JPEG, GIF, BMP or WebP)")) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UserInputError(_("the image file is damaged or truncated ({why})", why=str(err)[:80])) from None
    if im.width < 1 or im.height < 1:
        raise UserInputError(_("the image is empty (0 pixels)"))
    if im.width * im.height > max_pixels:
        raise _too_large(max_pixels, im.size)
    return im


def check_image_size(src, max_pixels: int = MAX_UPLOAD_PIXELS) -> tuple[int, int]:
    """(width, height) of an image file or bytes, read from its header only; UserInputError (one line)
    if it is no image or has more than ``max_pixels`` pixels. For code that decodes it afterwards."""
    return _open_header(_source_bytes(src), max_pixels).size


def _open_any(src, max_pixels: int = MAX_UPLOAD_PIXELS) -> Image.Image:
    """Open a path, bytes, numpy array or PIL image as a PIL image (first frame, EXIF-rotated)."""
    if isinstance(src, Image.Image):
        im = src
    elif isinstance(src, np.ndarray):
        a = src
        if a.size == 0:
            raise UserInputError(_("the image is empty (0 pixels)"))
        if a.ndim >= 2 and a.shape[0] * a.shape[1] > max_pixels:
            raise _too_large(max_pixels, (a.shape[1], a.shape[0]))
        if a.dtype == np.bool_:
            a = a.astype(np.uint8) * 255
        elif a.dtype == np.uint16:
            a = (a.astype(np.float64) / 65535.0 * 255 + 0.5).astype(np.uint8)
        elif a.dtype != np.uint8:
            a = np.nan_to_num(a.astype(np.float64))
            a = a * 255.0 if a.max() <= 1.0 else a
            a = (np.clip(a, 0, 255) + 0.5).astype(np.uint8)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
            raise UserInputError(_("an image array must be H×W, H×W×3 or H×W×4, got shape {shape}", shape=src.shape))
        im = Image.fromarray(a)
    else:
        im = _open_header(_source_bytes(src), max_pixels)  # the pixel count is checked before decoding
        try:
            im.seek(0)  # animated GIF/WebP/APNG: the first frame
            im.load()
        except Image.DecompressionBombError:
            raise _too_large(max_pixels, im.size) from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise UserInputError(_("the image file is damaged or truncated ({why})", why=str(err)[:80])) from None
        try:
            im = ImageOps.exif_transpose(im)
        except Exception:  # a broken EXIF block: keep the image as stored
            pass
    if im.width < 1 or im.height < 1:
        raise UserInputError(_("the image is empty (0 pixels)"))
    if im.width * im.height > max_pixels:
        raise _too_large(max_pixels, im.size)
    return im


def _flatten(im: Image.Image, background: int) -> Image.Image:
    """Any PIL mode → RGB, transparency composited on a grey level ``background``."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        im = Image.fromarray((np.clip(a / hi, 0, 1) * 255 + 0.5).astype(np.uint8), "L")
    elif mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        hi = 1.0 if a.max() <= 1.0 else 255.0
        im = Image.fromarray((np.clip(a / hi, 0, 1) * 255 + 0.5).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (background, background, background, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV ...


def load_user_image(src, image_shape: tuple[int, int, int], light_on_dark: bool | None = None,
                    max_pixels: int = MAX_UPLOAD_PIXELS, missing: str = "no image given") -> UserImage:
    """Turn an upload (path, bytes, PIL image, numpy array, or a gradio editor dict) into a model input.

    - any PIL mode (palette, 16-bit, CMYK, LA, RGBA ...), the first frame of an animation, EXIF
      rotation applied; transparency is composited on black for white-ink-on-black datasets
      (MNIST-like, ``C == 1``) and on white otherwise;
    - for grey datasets the image is turned to grey and, when its border is mostly light (dark ink on
      paper, a drawing), inverted to the datasets' white-on-black;
    - fitted to the model's size keeping its aspect ratio, padded with the background.

    ``light_on_dark`` forces (True) or forbids (False) the inversion; None decides from the border.
    ``max_pixels``: larger images are refused from their header, before anything is decoded.
    ``missing``: the message when there is no image at all (a drawing pad says its canvas is empty).
    Raises :class:`UserInputError` with one line for anything unusable.
    """
    c, h, w = (int(s) for s in image_shape)
    if isinstance(src, dict) and ("composite" in src or "background" in src):  # gr.ImageEditor value
        src = src.get("composite") if src.get("composite") is not None else src.get("background")
    if src is None:
        raise UserInputError(missing)
    im = _open_any(src, max_pixels)
    grey = c == 1
    notes = [f"{im.width}×{im.height} {im.mode}"]
    # Transparency: colour images go on white. Grey datasets are white ink on black, so light ink
    # goes on black and dark ink (a drawing) on white, which the border test below then inverts.
    background = 255
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))  # uint8: a float copy would take 4× the memory
        ink = rgba[..., 3] > 127
        if grey and ink.any() and rgba[ink][:, :3].mean() > 127:
            background = 0
        notes.append("transparency composited on " + ("black" if background == 0 else "white"))
    rgb = _flatten(im, background)
    if grey:
        g = np.asarray(rgb.convert("L"), dtype=np.uint8)
        border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
        invert = light_on_dark if light_on_dark is not None else float(np.median(border)) > 127
        if invert:
            g = 255 - g
            notes.append("inverted (light background → white-on-black like the dataset)")
        arr = g
        pad_value = 0
    else:
        arr = np.asarray(rgb, dtype=np.uint8)
        pad_value = int(np.median(np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).reshape(-1, 3)
                                  .mean(1))) if min(arr.shape[:2]) > 0 else 0
    ih, iw = arr.shape[:2]
    scale = min(h / ih, w / iw)
    nh, nw = max(1, min(h, round(ih * scale))), max(1, min(w, round(iw * scale)))
    pil = Image.fromarray(arr)
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    if ih == 1 and iw == 1:
        resample = Image.Resampling.NEAREST
    if grey and scale < 1 and ih > 4 * h:  # strokes of big drawings: reduce in two steps (keeps them visible)
        pil = pil.reduce(max(1, int(1 / scale) // 2))
    small = np.asarray(pil.resize((nw, nh), resample), dtype=np.uint8)
    canvas = np.full((h, w) if grey else (h, w, 3), pad_value, dtype=np.uint8)
    top, left = (h - nh) // 2, (w - nw) // 2
    canvas[top:top + nh, left:left + nw] = small
    if (nh, nw) != (ih, iw):
        how = f"resized to {nw}×{nh}"
        if (nh, nw) != (h, w):
            how += f" and padded to {w}×{h} (aspect kept)"
        notes.append(how)
    x = torch.from_numpy(canvas).float().div_(255.0)
    x = x.unsqueeze(0) if grey else x.permute(2, 0, 1)
    return UserImage(x.unsqueeze(0).contiguous(), "; ".join(notes))

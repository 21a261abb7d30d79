"""Offline images for the visualizations: photos that ship inside installed packages, never a download.

scikit-image bundles a handful of photographs (astronaut, chelsea the cat, coffee, a rocket, a motorcycle, ...) and
scikit-learn, when installed, two more (china, flower). :class:`ImageSet` turns them into a small reproducible "data
set" of random square crops and flips, enough for top-9 mining.

>>> photos = builtin_images(size=64)
>>> sorted(photos)[:2], photos["astronaut"].shape, photos["astronaut"].dtype   # (+ china, flower with sklearn)
(['astronaut', 'chelsea'], (64, 64, 3), dtype('uint8'))
>>> ds = ImageSet(photos, size=48, count=20, seed=0)
>>> len(ds), ds[3].shape, bool((ds[3] == ImageSet(photos, size=48, count=20, seed=0)[3]).all())
(20, (48, 48, 3), True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import ConfigError

__all__ = ["BUILTIN", "builtin_images", "square", "load_folder", "ImageSet", "to_tensor"]

#: scikit-image photographs (name -> loader name in skimage.data) and scikit-learn sample images.
_SKIMAGE = {
    "astronaut": "astronaut",
    "chelsea": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
    "motorcycle": "stereo_motorcycle",
    "hubble": "hubble_deep_field",
    "ihc": "immunohistochemistry",
}
_SKLEARN = ("china", "flower")
BUILTIN: tuple[str, ...] = (*_SKIMAGE, *_SKLEARN)

_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype != np.uint8:
        a = np.clip(a * (255 if a.max() <= 1 else 1), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def square(image: np.ndarray, size: int | None) -> np.ndarray:
    """Center-crop an (H, W, 3) uint8 image to a square and resize it to ``size`` (None: keep the crop's size).

    >>> square(np.zeros((30, 50, 3), np.uint8), 16).shape
    (16, 16, 3)
    """
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[top : top + s, left : left + s]
    if size is None or size == s:
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.LANCZOS))


def builtin_images(size: int | None = 224, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The bundled photos as (size, size, 3) uint8 RGB arrays, center-cropped to squares (None: full size).

    Names are :data:`BUILTIN`; scikit-learn's two are skipped when scikit-learn is not installed.
    """
    if size is not None and (not isinstance(size, int) or size < 8):
        raise ConfigError("size", size, "must be an int >= 8 (or None for the original sizes)")
    wanted = list(BUILTIN if names is None else names)
    unknown = [n for n in wanted if n not in BUILTIN]
    if unknown:
        raise ConfigError("names", unknown, f"must be among the bundled photos {BUILTIN}")
    import skimage.data  # noqa: PLC0415

    out: dict[str, np.ndarray] = {}
    sklearn_images: dict[str, np.ndarray] = {}
    if any(n in _SKLEARN for n in wanted):
        try:
            from sklearn.datasets import load_sample_images  # noqa: PLC0415

            data = load_sample_images()
            sklearn_images = {Path(f).stem: img for f, img in zip(data.filenames, data.images, strict=True)}
        except ImportError:
            pass
    for name in wanted:
        if name in _SKIMAGE:
            img = getattr(skimage.data, _SKIMAGE[name])()
            img = img[0] if isinstance(img, tuple) else img
        elif name in sklearn_images:
            img = sklearn_images[name]
        else:
            continue
        out[name] = square(_rgb(img), size) if size is not None else _rgb(img)
    return out


def load_folder(path: str | os.PathLike[str], size: int | None = 224) -> dict[str, np.ndarray]:
    """Every image file in a folder (sorted by name), as square (size, size, 3) uint8 RGB arrays (None: as is)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError("images", str(path), "must be a folder of image files (or 'builtin')")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _EXTENSIONS)
    if not files:
        raise ConfigError("images", str(path), f"holds no image files ({', '.join(sorted(_EXTENSIONS))})")
    out = {}
    for f in files:
        with Image.open(f) as im:
            rgb = np.asarray(im.convert("RGB"))
            out[f.stem] = square(rgb, size) if size is not None else rgb
    return out


class ImageSet(Sequence[np.ndarray]):
    """A reproducible "data set": the photos themselves, then random square crops (35-100% of the short side),
    mirrored half of the time, all resized to ``size``. Item ``i`` depends only on (photos, size, seed, i).

    ``names[i]`` says where item ``i`` came from, e.g. ``"chelsea crop 0.62 flip"``.
    """

    def __init__(
        self, photos: Mapping[str, np.ndarray], size: int = 224, count: int | None = None, seed: int = 0
    ) -> None:
        if not photos:
            raise ConfigError("photos", photos, "must hold at least one image")
        if count is not None and count < 1:
            raise ConfigError("count", count, "must be positive")
        self.photos = [(k, _rgb(v)) for k, v in photos.items()]
        self.size, self.seed = size, seed
        self.count = len(self.photos) if count is None else count

    def __len__(self) -> int:
        return self.count

    def _spec(self, i: int) -> tuple[int, float, float, float, bool]:
        if i < len(self.photos):
            return i, 1.0, 0.5, 0.5, False
        rng = np.random.default_rng([self.seed, i])
        return (
            int(rng.integers(len(self.photos))),
            float(rng.uniform(0.35, 1.0)),
            *rng.random(2),
            bool(rng.random() < 0.5),
        )

    def name(self, i: int) -> str:
        """Where item ``i`` came from."""
        k, frac, _, _, flip = self._spec(i)
        if i < len(self.photos):
            return self.photos[k][0]
        return f"{self.photos[k][0]} crop {frac:.2f}" + (" flip" if flip else "")

    @property
    def names(self) -> list[str]:
        return [self.name(i) for i in range(len(self))]

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        k, frac, fy, fx, flip = self._spec(i)
        img = self.photos[k][1]
        h, w = img.shape[:2]
        s = max(8, int(round(frac * min(h, w))))
        top, left = int(fy * (h - s)), int(fx * (w - s))
        crop = img[top : top + s, left : left + s]
        if flip:
            crop = crop[:, ::-1]
        return square(np.ascontiguousarray(crop), self.size)


def to_tensor(images: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32 in [0, 1].

    >>> to_tensor(np.full((1, 2, 2, 3), 255, np.uint8)).shape
    torch.Size([1, 3, 2, 2])
    """
    arr = np.stack(list(images)) if not isinstance(images, np.ndarray) else images
    if arr.ndim == 3:
        arr = arr[None]
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0

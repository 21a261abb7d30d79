"""tconv.zfnet.occlusion against occluded images built and run one by one in the test."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tconv.errors import ConfigError
from tconv.zfnet.occlusion import occlusion

from .families import ResNetLike, randomize


@pytest.fixture(scope="module")
def resnet():
    return randomize(ResNetLike(), 0)


def by_hand(model, img, r, c, size, fill):
    occluded = img.clone()
    occluded[:, r : r + size, c : c + size] = fill
    return occluded[None]


def test_logit_maps_against_brute_force(resnet):
    x = torch.rand(2, 3, 40, 36, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    occ = occlusion(resnet, x, size=12, stride=10, batch_size=5)
    assert occ.rows.tolist() == [0, 10, 20, 28] and occ.cols.tolist() == [0, 10, 20, 24]
    with torch.no_grad():
        base = resnet(x)
        assert occ.target.tolist() == base.argmax(1).tolist()
        torch.testing.assert_close(occ.baseline, base[torch.arange(2), occ.target])
        for b in range(2):
            for i, r in enumerate(occ.rows):
                for j, c in enumerate(occ.cols):
                    y = resnet(by_hand(resnet, x[b], r, c, 12, 0.0))[0]
                    torch.testing.assert_close(occ.activation[b, i, j], y[occ.target[b]])
                    torch.testing.assert_close(occ.probability[b, i, j], F.softmax(y, 0)[occ.target[b]])
                    assert int(occ.label[b, i, j]) == int(y.argmax())


def test_channel_and_unit_at_a_layer(resnet):
    x = torch.rand(1, 3, 48, 48, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fill = torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64)
    from tconv.zfnet.traced import Traced

    t = Traced(resnet, "layer2", "saliency")
    for objective in ("channel", "unit"):
        occ = occlusion(resnet, x, "layer2", objective=objective, size=24, stride=24, fill=fill, target=3)
        assert occ.target.tolist() == [3] and occ.label is not None
        with torch.no_grad():
            for i, r in enumerate(occ.rows):
                for j, c in enumerate(occ.cols):
                    a = t.forward(by_hand(resnet, x[0], r, c, 24, fill[:, None, None]))[0, occ.channel[0]]
                    want = a.sum() if objective == "channel" else a[tuple(occ.position[0].tolist())]
                    torch.testing.assert_close(occ.activation[0, i, j], want)
                    p = F.softmax(resnet(by_hand(resnet, x[0], r, c, 24, fill[:, None, None]))[0], 0)[3]
                    torch.testing.assert_close(occ.probability[0, i, j], p)
    heat = occ.heat(0, (48, 48))
    assert heat.shape == (48, 48) and abs(heat[0, 0] - float(occ.activation[0, 0, 0])) < 1e-9


def test_progress_lines_and_errors(resnet, capsys):
    x = torch.rand(3, 32, 32, dtype=torch.float64)
    occlusion(resnet, x, size=16, stride=8, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "occlusion 16px/8 [1/3]" in err and "[3/3]" in err
    for kwargs, param in (
        ({"size": 40}, "size"),
        ({"stride": 0}, "stride"),
        ({"fill": [1.0, 2.0]}, "fill"),
        ({"objective": "pixels"}, "objective"),
    ):
        with pytest.raises(ConfigError) as info:
            occlusion(resnet, x, **kwargs)
        assert info.value.param == param

"""Shared test settings for the upsampling experiments."""

from tconv.upsampling.superres import SRConfig

#: a super-resolution run of seconds: 3 steps on 16 patches, tested on one photo
TINY = SRConfig(
    steps=3, batch=4, n_train=16, n_test=8, channels=4, train_images=("coins", "page"), test_images=("camera",)
)

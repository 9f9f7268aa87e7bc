import pytest

from seagull.train.synthetic import write_rois_dataset


@pytest.fixture(scope="session")
def rois_dataset(tmp_path_factory) -> str:
    """12 images of 64 px, 3 regions each (36 regions; 2 images in the test split)."""
    return write_rois_dataset(tmp_path_factory.mktemp("rois-fixture"), n_images=12)

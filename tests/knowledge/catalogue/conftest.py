import pytest

from knowledge.catalogue.loader import load_catalogue


@pytest.fixture(scope="session")
def catalogue(sources):
    return load_catalogue(sources)

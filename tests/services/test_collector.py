"""The collector pause restores the cyclic collector as it found it, also when nested or failing."""

from __future__ import annotations

import gc

import pytest

from spm_desktop.services.collector import collector_paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_pause_and_resume(collector_on):
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pause_resumes_last(collector_on):
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resumes_after_an_error(collector_on):
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("stop")
    assert gc.isenabled()


def test_stays_off_when_it_was_off(collector_on):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
    gc.enable()

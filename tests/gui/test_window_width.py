"""The main window fits a 1280-pixel screen and keeps every area name readable."""

from __future__ import annotations

LONG_RUN = ("2017-Q4: run 4 by admin at 2026-12-05 02:59 UTC, payout 226,663.48 USD, inputs "
            "29350e23b04d, metrics bookings v2, gtx_pro_units v1, plans Sales Agent 2017 v2, Sales Manager 2017 v1")


def test_window_fits_a_laptop_screen(qtbot, main_window):
    for name in main_window.areas:
        main_window.show_area(name)
        qtbot.wait(10)
    # A calculated period's summary is long; it wraps instead of widening the window.
    main_window.areas["calculation"].run_label.setText(LONG_RUN)
    main_window.show_area("calculation")
    qtbot.wait(10)
    assert main_window.minimumSizeHint().width() <= 1280


def test_area_names_are_never_cut(qtbot, main_window):
    navigation = main_window.navigation
    main_window.areas["calculation"].run_label.setText(LONG_RUN)
    main_window.resize(1280, 800)
    main_window.show_area("calculation")
    qtbot.wait(10)
    assert navigation.width() >= navigation.sizeHintForColumn(0)

"""``spm settings``: list, show, set and reset the workspace settings."""

from __future__ import annotations

import argparse
import sys

from spm_desktop.cli.common import add_workspace_argument, open_workspace, write_csv, write_json, write_table
from spm_desktop.services import period_service, settings_service
from spm_desktop.services.context import Workspace
from spm_desktop.services.settings_service import SettingValue

HEADER = ("setting", "value", "default", "source", "label")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "settings", help="list, show, set or reset the workspace settings",
        description="Without KEY: list every setting with its value and default. With KEY: show one setting "
                    "and what it allows. With KEY VALUE: validate and store the value (audited). "
                    "With KEY --reset: remove the stored value so the default applies again (audited).",
        epilog="Examples: spm settings ws.spm company.name 'Acme Ltd'; spm settings ws.spm statements.page_size "
               "Letter; spm settings ws.spm tieout.tolerance '0.01, 0.5%'; spm settings ws.spm "
               "signals.open_stages 'Prospecting, Engaging'.")
    add_workspace_argument(parser)
    parser.add_argument("key", metavar="KEY", nargs="?", help="setting key, such as fiscal_year.start_month")
    parser.add_argument("value", metavar="VALUE", nargs="?",
                        help="new value as text; names separated by commas for a list, empty text to clear an "
                             "optional setting")
    parser.add_argument("--reset", action="store_true", help="remove the stored value so the default applies")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format of the listing (default table)")
    # SUPPRESS keeps the global --user (given before the command) when this one is left out.
    parser.add_argument("--user", default=argparse.SUPPRESS,
                        help="acting user recorded in the audit trail (default: SPM_USER or the OS login)")
    parser.set_defaults(handler=_settings)


def _settings(args: argparse.Namespace) -> int:
    if args.reset and (args.key is None or args.value is not None):
        print("spm settings: error: --reset needs KEY and no VALUE, such as: spm settings WS currency --reset",
              file=sys.stderr)
        return 2

    with open_workspace(args) as workspace:
        if args.key is None:
            _print_listing(settings_service.list_settings(workspace), args.format)
            return 0
        if args.reset:
            setting = settings_service.reset(workspace, args.key)
            print(f"{setting.key} reset to its default: {_shown(setting.default_text)}")
            _warn_about_plans(workspace, setting.key)
            return 0
        if args.value is not None:
            setting = settings_service.set(workspace, args.key, args.value)
            print(f"{setting.key} = {_shown(setting.text)}")
            _warn_about_plans(workspace, setting.key)
            return 0
        setting = settings_service.get(workspace, args.key)
    _print_one(setting, args.format)
    return 0


def _warn_about_plans(workspace: Workspace, key: str) -> None:
    if key != period_service.FISCAL_START_SETTING:
        return
    for message in settings_service.fiscal_start_warnings(workspace):
        print(f"warning: {message}", file=sys.stderr)


def _shown(text: str) -> str:
    return text if text else "(empty)"


def _row(setting: SettingValue) -> list[str]:
    source = "stored" if setting.is_set else "default"
    if setting.problem:
        source = "stored, invalid"
    return [setting.key, setting.text, setting.default_text, source, setting.spec.label]


def _as_json(setting: SettingValue) -> dict[str, object]:
    return {"key": setting.key, "value": setting.value, "default": setting.default, "is_set": setting.is_set,
            "label": setting.spec.label, "group": setting.spec.group, "kind": setting.spec.kind,
            "help": setting.spec.help, "problem": setting.problem}


def _print_listing(found: list[SettingValue], output_format: str) -> None:
    if output_format == "json":
        write_json([_as_json(setting) for setting in found])
    elif output_format == "csv":
        write_csv(HEADER, [_row(setting) for setting in found])
    else:
        write_table(HEADER, [_row(setting) for setting in found])
        invalid = [setting for setting in found if setting.problem]
        for setting in invalid:
            print(f"warning: {setting.problem}")


def _print_one(setting: SettingValue, output_format: str) -> None:
    if output_format == "json":
        write_json(_as_json(setting))
        return
    if output_format == "csv":
        write_csv(HEADER, [_row(setting)])
        return
    spec = setting.spec
    print(f"{spec.key}: {_shown(setting.text)} ({'stored' if setting.is_set else 'default'})")
    print(f"  {spec.label} ({spec.group}). {spec.help}")
    print(f"  default: {_shown(setting.default_text)}")
    print(f"  allowed: {_allowed(spec)}")
    if setting.problem:
        print(f"  warning: {setting.problem}")


def _allowed(spec: settings_service.SettingSpec) -> str:
    if spec.choices:
        return ", ".join(spec.choices)
    if spec.kind == settings_service.INTEGER:
        return f"a whole number from {spec.minimum} to {spec.maximum}"
    if spec.kind == settings_service.NUMBER:
        return f"a number from 0 to {spec.maximum}" if spec.maximum is not None else "a number of 0 or more"
    return {
        settings_service.TEXT: "one line of text",
        settings_service.OPTIONAL_TEXT: "one line of text, or empty text for automatic",
        settings_service.CURRENCY: "a three-letter ISO 4217 currency code",
        settings_service.NAME_LIST: "names separated by commas",
        settings_service.TOLERANCE: "an amount (0.01), a percentage (0.5%) or both separated by a comma",
        settings_service.IMAGE_PATH: "the path of a PNG or JPEG file, or empty text for no logo",
    }.get(spec.kind, spec.kind)

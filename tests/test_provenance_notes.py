"""The equipment screen's ``reading_notes`` (how a unit's row was read) in ``--lang zh``
outputs: in Chinese, each part the reader writes, through :mod:`sxzones.i18n`; ``both`` gives
the Chinese and the English; a part the translation does not know stays as written."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from sxzones.cli import cli
from sxzones.i18n import translate_notes

UNKNOWN = ": no rule for this unit needs it; read as unknown"
READ_ZH = "：本设备适用的规则均不需要该字段，按未知读取"


def test_each_part_the_reader_writes_in_chinese():
    cases = {
        f"volume_m3 '一千' is not a non-negative number{UNKNOWN}": (
            f"有效容积（立方米）的值 '一千' 不是非负数{READ_ZH}"
        ),
        f"chamber_height_m '99' is outside the plausible range 2-10{UNKNOWN}": (
            f"炭化室高度（米）的值 '99' 超出合理范围 2-10{READ_ZH}"
        ),
        f"commissioned '去年' is not a date or year{UNKNOWN}": (
            f"投产时间的值 '去年' 不是日期或年份{READ_ZH}"
        ),
        f"furnace_form '半开放' is not in the vocabulary{UNKNOWN}": (
            f"炉型的值 '半开放' 不在规则词表中{READ_ZH}"
        ),
        "电弧炉 making 硅锰: read as 矿热炉 (ferroalloy_furnace), as no electric_arc_furnace "
        "makes 硅锰": "电弧炉生产硅锰：按矿热炉（ferroalloy_furnace）读取，因电弧炉不生产硅锰",
        "产能(万吨/年) 200 is written once over rows 2-5 (4 units): read as their total, "
        "counted once, on unit JL-1": (
            "产能(万吨/年) 200 在第 2-5 行合并填写（4 台设备）：按其合计读取，只计一次，计入设备 JL-1"
        ),
        "有效容积 1080 is written once over rows 8-9 (2 units): each unit's or their total? "
        "Not read (unknown for every one)": (
            "有效容积 1080 在第 8-9 行合并填写（2 台设备）：无法判断是各台的值还是合计，未读取"
            "（各台均按未知处理）"
        ),
        "firm code '9.11401E+17' is in scientific notation: the code is mangled and joins no "
        "firm": "企业代码 '9.11401E+17' 为科学计数法：代码已失真，无法与企业对应",
    }
    for en, zh in cases.items():
        assert translate_notes(en, "zh") == zh, en
        assert translate_notes(en, "both") == f"{zh} ({en})"
        assert translate_notes(en, "en") == en


def test_several_parts_and_an_unknown_part():
    """Parts are joined by ``; `` (one of their own holds ``; read as unknown``); a part the
    translation does not know is kept as written, between translated ones."""
    text = (
        f"commissioned '去年' is not a date or year{UNKNOWN}; something new; firm code "
        "'9.1E+17' is in scientific notation: the code is mangled and joins no firm"
    )
    assert translate_notes(text, "zh") == (
        f"投产时间的值 '去年' 不是日期或年份{READ_ZH}；something new；"
        "企业代码 '9.1E+17' 为科学计数法：代码已失真，无法与企业对应"
    )
    assert translate_notes("", "zh") == ""


def test_phaseout_tables_in_chinese_carry_the_notes_in_chinese(tmp_path):
    src = tmp_path / "u.csv"
    src.write_text(
        "设备编号,企业代码,设备类型,产品,炉型,炭化室高度,有效容积,超低排放,状态,投产时间\n"
        "K1,9.11401E+17,焦炉,,,4.3,,是,在产,二〇〇八年\n"
        "B1,F1,高炉,,,—,1000,是,在产,2010\n"
        "E1,F2,电弧炉,硅锰,半封闭,,,,在产,\n"
        "B3,F1,高炉,,,4,1000,是,在产,2010\n",
        encoding="utf-8",
    )
    for lang in ("en", "zh"):
        res = CliRunner().invoke(
            cli,
            ["phaseout", "--equipment", str(src), "--out", str(tmp_path / lang), "--lang", lang],
        )
        assert res.exit_code == 0, res.output
    en = pd.read_csv(tmp_path / "en" / "phaseout.csv", dtype=str, keep_default_na=False)
    zh = pd.read_csv(tmp_path / "zh" / "phaseout.csv", dtype=str, keep_default_na=False)
    assert zh["读取说明"].tolist() == [
        f"投产时间的值 '二〇〇八年' 不是日期或年份{READ_ZH}；"
        "企业代码 '9.11401E+17' 为科学计数法：代码已失真，无法与企业对应",
        f"炭化室高度（米）的值 '—' 不是非负数{READ_ZH}",
        "电弧炉生产硅锰：按矿热炉（ferroalloy_furnace）读取，因电弧炉不生产硅锰",
        "",
    ]
    assert en["reading_notes"].tolist()[1] == (
        f"chamber_height_m '—' is not a non-negative number{UNKNOWN}"
    )  # English as before
    sheet = pd.read_excel(tmp_path / "zh" / "phaseout.xlsx", sheet_name="设备", dtype=str)
    assert sheet["读取说明"].fillna("").tolist() == zh["读取说明"].tolist()

"""Lead lines of service-first answers: plain words from the catalogue, every figure quoted (pure)."""

from knowledge.lead_line import MAX_LEAD, lead_line, verified_lead


def test_lead_line_says_the_cost_first_and_fits_a_phone(catalogue):
    service = catalogue.entries["gx-preconception-check"].service
    line = lead_line(service)
    assert line.startswith("免费。") and "1 次" in line and len(line) <= MAX_LEAD
    for entry in catalogue.entries.values():
        assert len(lead_line(entry.service)) <= MAX_LEAD


def test_a_lead_whose_figure_is_not_in_the_quote_is_refused(catalogue):
    service = catalogue.entries["gx-preconception-check"].service
    stated = "为符合生育政策并计划怀孕的夫妇（每孩次）免费提供 1 次优生健康教育、健康检查、风险评估和咨询指导等孕前优生服务"
    assert verified_lead(service, [stated]) == lead_line(service)
    # the same service quoted without its "1 次": the lead would state a figure nothing cited holds
    assert verified_lead(service, ["免费提供孕前优生健康检查和婚前医学检查"]) is None


def test_editors_asides_stay_out_of_the_lead(catalogue):
    line = lead_line(catalogue.entries["gx-contraception"].service)
    assert "规划未写明" not in line and line.startswith("免费。")

from knowledge.figures import chinese_number, figures, unquoted_figures


def texts(text: str) -> list[str]:
    return [f.text for f in figures(text)]


def test_numbers_with_units_as_the_plans_write_them():
    assert texts("每个乡镇至少要办好 1 所乡镇公办中心幼儿园，3 万以上人口的大镇要办好 2—3 所公办幼儿园") == [
        "1所",
        "3万",
        "2—3所",
    ]
    assert texts("每千名老年人拥有养老床位 32.5 张，养老床位中护理型床位比例达 44.28%") == [
        "32.5张",
        "44.28%",
    ]
    assert texts("为 0-6 岁儿童规范提供健康管理服务，到2025年，争取90%的县") == ["0-6岁", "90%"]
    assert texts("全区学校 1500 多所，社会办医疗机构1200余家，诊疗465.2万人次") == [
        "1500多所",
        "1200余家",
        "465.2万人次",
    ]
    assert texts("按每10万—15万人口设置1所普通高中") == ["10万—15万人", "1所"]
    assert texts("2.6 万孤儿，61.42 万套，48 万户，10241.44 亿元，1.5%，3.7 个百分点") == [
        "2.6万",
        "61.42万套",
        "48万户",
        "10241.44亿元",
        "1.5%",
        "3.7个百分点",
    ]
    assert texts("新建改扩建城市社区卫生服务中心40所，护理型床位3000张，60 周岁以上，5年过渡期") == [
        "40所",
        "3000张",
        "60周岁",
        "5年",
    ]


def test_units_and_magnitudes():
    (f,) = figures("城镇新增就业 110.73 万人。")
    assert (f.text, f.numbers, f.unit) == ("110.73万人", ("110.73",), "万人")
    assert [f.unit for f in figures("12个月，5张床位，2小时，500公里，70平方米，3倍，8‰，50％")] == [
        "个月",
        "张床位",
        "小时",
        "公里",
        "平方米",
        "倍",
        "‰",
        "%",
    ]


def test_chinese_numerals():
    assert texts("两项，三年，十二个月，九年义务教育，五个") == ["两项", "三年", "十二个月", "九年", "五个"]
    assert texts("一个中心、一次性、一户一档、千家万户、三孩、十四五") == []  # words, not counts
    assert [chinese_number(s) for s in ("三", "十二", "两百零五", "二〇二五", "一千零一", "十四五")] == [
        3,
        12,
        205,
        2025,
        1001,
        None,
    ]


def test_not_figures():
    assert texts("截至 2020 年底，“十四五”时期（2021—2025 年），2035年远景目标") == []  # years
    assert texts("2022年2月14日印发，3 月底前完成") == []  # dates
    assert texts("（广西规划 第三章 第二节 专栏4）第 2 节，第3项") == []  # section references
    assert texts("1. 新建城区 2.人均体育场地面积") == []  # list numbers
    assert texts("拨打12345政务服务热线，“12333”人力资源社会保障服务热线") == []  # hotlines
    assert texts("孕产妇死亡率\t1/10万\t<18\t8.37\t预期性") == []  # table cells, a rate's unit
    assert texts("三年级，1990年代，5G网络，4A级景区") == []


def test_unquoted_figures_need_the_whole_number_and_the_unit_in_one_quote():
    row = "人均体育场地面积 ³\t平方米\t2.01\t2.6\t预期性"
    assert (
        unquoted_figures("人均体育场地面积：2020年情况 2.01平方米，2025年目标 2.6平方米（预期性）", [row])
        == []
    )
    assert unquoted_figures("12.6平方米，2.65平方米，2.6个", [row]) == ["12.6平方米", "2.65平方米", "2.6个"]
    quote = "3 万以上人口的大镇要办好 2—3 所公办幼儿园"
    assert unquoted_figures("3万以上人口的大镇办好2—3所", [quote]) == []  # "3 万" ≡ "3万"
    assert unquoted_figures("3 万人的大镇办好 2—4 所，至少 3 所", [quote]) == ["3万人", "2—4所"]


def test_unquoted_figures_across_quotes_and_repeats():
    quotes = ["新建改扩建城市社区卫生服务中心40所", "每个乡镇至少要办好 1 所乡镇公办中心幼儿园"]
    assert unquoted_figures("新建40所，每乡镇1所", quotes) == []
    assert unquoted_figures("补贴每户 5000 元，每户5000元", quotes) == ["5000元"]  # listed once
    assert unquoted_figures("补贴 5000 元", []) == ["5000元"]
    assert unquoted_figures("三孩生育政策，两项服务", ["实施三孩生育政策", "包括两项服务"]) == []
    assert unquoted_figures("包括 2 项服务", ["包括两项服务"]) == []  # 两 = 2

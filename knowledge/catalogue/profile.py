"""The typed resident profile that eligibility rules are written against.

Every field is optional: an unknown field is ``None`` and makes a rule that needs it come back as
``needs_info`` with the field's question, never as a guess. Each field carries the plain-Chinese
question the bot asks to fill it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RegionOrOther = Literal["guangxi", "ningxia", "other"]


def _q(question: str, label: str) -> dict[str, Any]:
    return {"question": question, "label": label}


class ResidentProfile(BaseModel):
    """What we know about the person a service would be for (unknown = None)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # "age": "35" is a wrong type, not a guess

    hukou_region: RegionOrOther | None = Field(
        None, json_schema_extra=_q("您的户籍（户口）在广西、宁夏，还是其他省份？", "户籍所在地")
    )
    spouse_hukou_region: RegionOrOther | None = Field(
        None,
        json_schema_extra=_q(
            "您的配偶（或准备登记结婚的对象）户籍在广西、宁夏，还是其他省份？", "配偶户籍所在地"
        ),
    )
    residence_region: RegionOrOther | None = Field(
        None, json_schema_extra=_q("您现在常住在广西、宁夏，还是其他省份？", "常住地")
    )
    urban_rural: Literal["urban", "rural"] | None = Field(
        None, json_schema_extra=_q("您住在城镇还是农村？", "城镇/农村")
    )
    age: Annotated[int, Field(ge=0, le=120)] | None = Field(
        None, json_schema_extra=_q("请问您（或要办理的人）今年多少岁？", "年龄")
    )
    sex: Literal["male", "female"] | None = Field(None, json_schema_extra=_q("请问是男性还是女性？", "性别"))
    marital_status: Literal["single", "married", "divorced", "widowed"] | None = Field(
        None, json_schema_extra=_q("请问您目前的婚姻状况是？（未婚/已婚/离异/丧偶）", "婚姻状况")
    )
    planning_marriage: bool | None = Field(
        None, json_schema_extra=_q("您是否准备近期办理结婚登记？", "准备结婚")
    )
    planning_pregnancy: bool | None = Field(
        None, json_schema_extra=_q("您和配偶是否正在计划怀孕？", "计划怀孕")
    )
    pregnant: bool | None = Field(None, json_schema_extra=_q("您（或家人）现在是否怀孕？", "正在怀孕"))
    recently_gave_birth: bool | None = Field(
        None, json_schema_extra=_q("您（或家人）是否刚生完孩子（产后）？", "产后")
    )
    children_ages: list[Annotated[int, Field(ge=0, le=30)]] | None = Field(
        None, json_schema_extra=_q("家里孩子几岁了？有几个孩子就说几个年龄，没有孩子请说“没有”。", "子女年龄")
    )
    school_stage: (
        Literal["none", "preschool", "primary", "junior", "senior", "vocational", "university"] | None
    ) = Field(
        None,
        json_schema_extra=_q(
            "要办理的学生现在在哪个学段？（幼儿园/小学/初中/普通高中/中职/大学，没有在读请说“无”）", "学段"
        ),
    )
    family_economic_difficulty: bool | None = Field(
        None, json_schema_extra=_q("家庭经济是否困难（例如难以负担学费、生活费）？", "家庭经济困难")
    )
    income_status: Literal["none", "low_income", "dibao", "tekun"] | None = Field(
        None, json_schema_extra=_q("您家是低保户、特困供养人员、低收入家庭，还是都不是？", "低保/特困/低收入")
    )
    disability: bool | None = Field(None, json_schema_extra=_q("您（或家人）是否有残疾？", "残疾"))
    disability_level: Literal[1, 2, 3, 4] | None = Field(
        None, json_schema_extra=_q("残疾等级是几级？（一级到四级）", "残疾等级")
    )
    severe_illness: bool | None = Field(None, json_schema_extra=_q("是否患有重病、大病？", "重病"))
    chronic_disease: bool | None = Field(
        None, json_schema_extra=_q("是否患有高血压、糖尿病等慢性病？", "慢性病")
    )
    lives_alone: bool | None = Field(None, json_schema_extra=_q("老人是否独居或空巢？", "独居/空巢"))
    needs_care: bool | None = Field(
        None, json_schema_extra=_q("是否失能、半失能，生活需要人照料？", "失能/需照料")
    )
    veteran: bool | None = Field(
        None, json_schema_extra=_q("您是否是退役军人（或其他优抚对象）？", "退役军人")
    )
    employment_status: (
        Literal["employed", "unemployed", "self_employed", "retired", "student", "farmer"] | None
    ) = Field(
        None,
        json_schema_extra=_q("您现在的工作状态是？（在职/失业/个体或灵活就业/退休/学生/务农）", "就业状态"),
    )
    medical_insurance: Literal["employee", "resident", "none"] | None = Field(
        None, json_schema_extra=_q("您参加的是职工医保、城乡居民医保，还是没有参保？", "医保类型")
    )
    housing_status: Literal["own", "renting", "housing_difficulty"] | None = Field(
        None, json_schema_extra=_q("您家住房情况是？（有自有住房/租房/住房困难）", "住房情况")
    )
    dilapidated_house: bool | None = Field(
        None, json_schema_extra=_q("您在农村的住房是否属于危房？", "农村危房")
    )
    child_in_difficulty: bool | None = Field(
        None, json_schema_extra=_q("孩子是否属于孤儿、事实无人抚养儿童或困境儿童？", "孤儿/困境儿童")
    )
    left_behind_child: bool | None = Field(
        None, json_schema_extra=_q("孩子是否是父母外出务工的农村留守儿童？", "留守儿童")
    )
    disaster_affected: bool | None = Field(None, json_schema_extra=_q("您家是否遭受了自然灾害？", "受灾"))
    sudden_hardship: bool | None = Field(
        None, json_schema_extra=_q("家里是否遇到突发的、暂时的生活困难？", "突发困难")
    )
    family_planning_household: bool | None = Field(
        None, json_schema_extra=_q("您家是否属于计划生育家庭（独生子女或双女家庭等）？", "计划生育家庭")
    )
    work_injury: bool | None = Field(None, json_schema_extra=_q("是否是在工作中受的伤（工伤）？", "工伤"))


PROFILE_FIELDS: tuple[str, ...] = tuple(ResidentProfile.model_fields)


def field_question(name: str) -> str:
    extra = ResidentProfile.model_fields[name].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["question"])


def field_label(name: str) -> str:
    extra = ResidentProfile.model_fields[name].json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["label"])

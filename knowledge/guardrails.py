"""What the bot must decline before (or instead of) answering: pure pattern checks on the question.

Declining is always safe; answering outside the two plans is not. Each check returns a reason code
and a plain-Chinese explanation the resident sees. The messages point to a channel in general terms
(the local 12345 hotline, the department's service platform or window) and never name a number,
address or link the plans do not give.

Most patterns need two things at once: a topic word *and* the shape of a request (an interrogative,
a possessive, a "help me" verb, a time like 今天). A bare keyword would decline ordinary questions:
"下雨就漏" is about a leaking house, not the weather; "有没有限制" is about eligibility, not a jailbreak;
"被人骗了钱" is a victim asking for legal aid; "申请要提供身份证吗" is not a request for someone's ID.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from knowledge.regions import detect_elsewhere, detect_regions


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def _normalize(text: str) -> tuple[str, str]:
    """(spaced, compact): NFKC (full-width → half-width), lower case, zero-width characters dropped.

    Chinese patterns run on the compact form, so "忽 略 规 则" reads as "忽略规则"; English patterns need
    word boundaries and run on the spaced form. NFKC also turns "？，" into "?,", so patterns use ASCII.
    """
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", t)
    spaced = re.sub(r"\s+", " ", t).strip()
    return spaced, spaced.replace(" ", "")


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Benefit words: on their own they make a public-service question; next to a cheating, look-up or
# third-party marker they make one of the classes below.
_BENEFIT = (
    r"低保|补贴|补助|救助|特困|五保|贫困户|困难户|低收入|公租房|廉租房|保障房|医保|社保|养老金|养老保险|"
    r"失业金|失业保险|抚恤|优待金|资助|助学金|津贴|救济|残疾证|高龄|待遇|报销"
)

# ---------------------------------------------------------------- injection
# Attempts to replace the bot's rules: "ignore/forget the rules", a new role, a mode without limits,
# a request to reveal the hidden instructions. Residents say "限制" and "规则" too ("申请有没有限制",
# "低保的规则"), so those words only count after an override verb or with "你的/上面的".
_OVERRIDE_VERB = (
    r"忽略|无视|忘掉|不要管|别管|不用管|不必管|抛开|丢掉|跳过|绕过|不要理|别理|不理会|"
    r"不要遵守|别遵守|不用遵守|无需遵守|不必遵守|不再遵守|停止遵守|推翻"
)
_PRIOR = (
    r"你的|你|之前|以上|上面|前面|上述|所有|一切|全部|刚才|原来|原有|原先|系统|那些|这些|这条|任何|此前|"
    r"先前|既定|开发者给的?|别人给你的"
)
_RULE_WORD = r"指令|提示|规则|设定|要求|文件|限制|约束|规划|资料|身份|原则|命令|instruction|prompt"
_INJECTION_ZH = _any(
    rf"({_OVERRIDE_VERB})掉?({_PRIOR})+.{{0,6}}({_RULE_WORD})",
    r"(忽略|无视|不要管|别管|不用管|抛开|跳过|绕过|不理会|不要遵守|别遵守|不用遵守|无需遵守|不必遵守|不再遵守)掉?"
    r"(所有的?|全部的?|一切)?(规则|指令|设定|约束|提示词|提示)|(忽略|无视|不要管|别管|抛开|不理会)(那些|这些)?(规划|文件)",
    r"(不用|不必|无需|不要|别)(再)?遵守.{0,4}(规则|限制|规定|设定|约束)",
    r"从现在(起|开始)|从今(天|以后|往后)(起|开始)?你|接下来你(就|要|将)?(是|扮演|当|充当|作为)|现在你是|你现在是",
    r"你(从此|以后|今后|现在)?(就是|变成|成为|充当|化身为?)(一个|一名|一位|个|名)?.{0,12}"
    r"(ai|人工智能|助手|机器人|黑客|律师|医生|专家|chatgpt|gpt|dan|角色|客服|管理员|开发者)",
    r"(你|ai|助手|机器人|模型)(现在|已经|从此|以后)?(是|作为|当)?(一个|个)?(没有|不受|不受任何|没有任何|不存在)"
    r"(限制|约束|审查|过滤|规则)",
    r"(解除|绕过|突破|关闭|关掉|摆脱)(你的|所有|一切|任何|全部)?(安全)?(限制|约束|过滤|审查|安全策略)",
    r"(假设|假如|想象|设想)(你|您)(是(?!我)|没有|不受|不用|可以|能)",
    r"(开发者|调试|上帝|越狱|dan|维护|管理员|超级用户|无限制)模式|root权限|sudo",
    r"提示词|prompt|系统提示|系统指令|系统设定|初始指令|初始设定|内部指令|隐藏指令|预设指令|底层指令",
    r"(输出|打印|复述|重复|背诵|念|显示|展示|泄露|透露|告诉我|说出|发给?我|列出|贴出|给我看|翻译)(一下|一遍)?"
    r"(你|系统|最开始|最初|原始|开头).{0,8}(规则|指令|设定|配置|提示)",
    r"(输出|打印|复述|重复|背诵|念|显示|展示|泄露|透露|告诉我|说出|发给?我|列出|贴出|给我看|翻译)(一下|一遍)?"
    r"(上面|以上|前面|之前).{0,8}(指令|设定|配置|提示词|系统提示)",
    r"(把|将)(你|上面|以上|前面|之前|最开始|最初|系统).{0,8}(规则|指令|设定|配置|提示)"
    r".{0,6}(翻译|复述|重复|输出|打印|念|告诉|发|列出|说|写)",
    r"你(的|有什么|有哪些)(规则|指令|设定|配置)(是什么|有哪些|都有啥|是啥)",
    r"角色扮演|扮演(一下|一个|个|我|成|下|的角色|一名|一位)|你(来)?扮演|cosplay",
    r"(以|用).{0,8}的?(口吻|身份|语气)(回答|说话|回复|跟我说|和我说)",
    r"(不要|不用|别|无需|不必)(再)?(看|管|查|引用|依据|根据|参考|局限于|拘泥于|限于)(那些|什么|任何)?"
    r"(规划|文件|原文|资料|出处|文档|知识库)",
    r"(管理员|后台|账号|数据库)密码|密码发|越狱|jailbreak|"
    r"(后台|数据库|服务器|源代码|源码|apikey|密钥|配置文件).{0,6}(发|给|导出|告诉|泄露|打开|访问|登录)",
    r"<\|?(im_start|system)\|?>|\[(system|inst)\]|###(instruction|system)",
)
_INJECTION_EN = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,30}\b(instructions?|rules?|prompts?|guidelines?|"
    r"restrictions?|above|previous)\b|\byou are now\b|\bfrom now on\b|\bact as\b|\bpretend (to be|you)\b|"
    r"\brole-?play\b|\b(developer|dan|god|debug) mode\b|\bdo anything now\b|\bsystem prompt\b|"
    r"\b(reveal|print|show|repeat|output|translate)\b.{0,20}\b(prompt|instructions|rules|system message)\b|"
    r"\bnew instructions\b|\bno (restrictions|limits|rules)\b|\bwithout (any )?(restrictions|limits|rules)\b|"
    r"\b(unfiltered|uncensored|jailbreak)\b"
)

# ---------------------------------------------------------------- fraud
# How-tos for cheating on benefits, faked papers, official-looking documents written for the resident.
# "骗/冒领" after "被/有人" is a victim asking for help and is not caught; "开证明/盖章的证明/假牙/假肢"
# are ordinary words in applications ("要村委会盖章的证明吗", "装假肢有补贴吗"); drafting only counts with
# "帮我写" or an organisation's name on the document.
_NOT_VICTIM = r"(?<!被)(?<!被人)(?<!被他)(?<!被她)(?<!有人)(?<!别人)"
_ORG = (
    r"政府|单位|公司|村委会?|居委会?|街道|社区|民政局?|人社局?|医保局|社保局|卫健委|乡政府|镇政府|县政府|"
    r"市政府|自治区|学校|医院|官方|部门|机关|党委|派出所"
)
_FRAUD = _any(
    _NOT_VICTIM + r"骗(取|保|点|些|到|个)",
    _NOT_VICTIM + r"骗(国家|政府)?的?(低保|补贴|补助|医保|社保|养老金|失业金|救助|抚恤金|津贴|助学金|保险)",
    _NOT_VICTIM + r"骗(国家|政府)的?钱",
    _NOT_VICTIM + r"冒(领|名|充|用)|套(取|医保|补贴)",
    r"虚报|谎报|瞒报|少报(收入|工资|存款|财产)",
    r"(偷偷|悄悄|暗地|私下|钻|骗|瞒|假|冒|虚).{0,8}多领|多领.{0,6}(不被|不会被|查不到|发现)",
    r"钻.{0,3}(空子|漏洞)|(漏洞|空子)(可以|能|好|怎么|咋)?.{0,3}(钻|利用)",
    r"(?<![请休放度寒暑病产婚丧真])假(?![牙肢发期条日])的?(证明|材料|病历|诊断|发票|收据|票据|合同|证件|户口|公章|章|"
    r"工资条|流水|残疾证|结婚证|离婚证|离婚|身份证|学籍|档案|证)",
    r"伪造|造假|作假|(做|开|弄|搞|办|买|整)(个|张|一张|一份|份)?假(?![条期日了牙肢发睫])",
    # "残疾证能不能找人办个假的": the paper named first, the fake at the end
    r"(证|证明|病历|诊断书?|户口本?|材料|发票|合同|档案)(能不能|可不可以|可以|能|咋|怎么|如何|去哪)?.{0,8}"
    r"(办|做|弄|搞|开|买|整)(个|张|一张|份|一份)?假的",
    r"编(个|一个|点)?(理由|借口|说法|故事)",
    r"(?<![不没用要])(花钱|塞钱|送钱|送礼|给好处|走后门|拉关系|托关系|找关系)(就|才|能|可以|去)?"
    r"(买|办|弄|搞|开|评|评上|吃上|拿到|打点)?.{0,4}(残疾证|证明|低保|贫困户|补贴|名额|公租房)",
    r"买(个|张|一张)?(残疾证|证明|病历|诊断书)",
    # bribing one's way to a benefit, or talking an assessment up
    r"(找谁|找人|怎么|咋|如何|要不要|去)(去)?(打点|疏通|通融|塞红包|送红包|送礼|塞钱|走后门|托关系|找关系)",
    r"(残疾|伤残|失能|困难|贫困)(的)?(等级|级别|程度).{0,8}(高一点|高一些|高点|往高|重一点|重一些)|"
    r"评(个|得|的)?.{0,8}(等级|级别)?(高一点|高一些|高点)的?",
    r"(写|拟|起草|弄|搞|做|仿|生成|伪造|编)(个|一个|一份|份|张|篇)?.{0,6}红头|红头文件.{0,6}(格式|模板|范文|样本|写法)",
    r"公文(?!包)",
    # something made to pass for an official paper: "看起来像政府发的通知"
    rf"(看起来|看着|显得|弄得|做得|写得|搞得|做成|弄成|写成)(很|跟|和)?像(是)?({_ORG})(办|办事处)?"
    r"(发|出|下发|印发|盖章|盖了章|开)?的",
    rf"(以|用|冒用|借用|打着)({_ORG})的?(名义|口吻|抬头|格式|名头).{{0,8}}(写|发|出|拟|起草|开|做|弄|搞|盖|打印|印|编)",
    rf"(写|拟|起草|生成|仿|编|伪造)(一?份|一?个|一?篇|一?张|个|份|篇|张)?.{{0,6}}({_ORG})的?.{{0,4}}"
    r"(通知|公告|通告|文件|批复|公函|证明)",
    r"(帮我|给我|替我|你来?)(写|弄|搞|做|开|出|生成|p|ps)(个|一个|一份|份|张|一张)?(盖|带|有)(了|好)?公?章",
    r"(帮我|给我|替我|你来?)(写|拟|起草|生成|仿写?)(一?份|一?个|一?张|个|份|张)?.{0,6}"
    r"(证明|公函|介绍信|批复|证书|诊断书|病历|通报)",
    r"私刻|刻(个|一个|枚)?公?章|(公章|印章)(怎么|去哪|哪里)?.{0,4}(做|刻|弄|搞|p)",
    r"(?<![a-z])(p|ps)(个|一个|一下|张)?(图|章|证明|公章|残疾证|诊断书|户口本)",
)
# Hiding income or assets is fraud only when it is done to *get* a benefit: "单位隐瞒工资，社保按最低交"
# is a worker's complaint, "隐瞒收入吃低保" is fraud.
_CONCEAL = _any(
    r"(隐瞒|瞒着|瞒住|瞒过|瞒下|藏)(了|住|下)?(家里|我们家|我家)?的?(收入|财产|存款|房产|房子|车子|车|工作|工资|实情|真实收入)",
    r"(收入|工资|存款|财产|房子|房产|车子|车).{0,4}(不申报|不报|不说|瞒|藏起来|不写)",
    r"(不被|不会被|不让|别让|免得被|躲过|逃过|避开)(人|他们|村里|政府|民政)?(发现|查到|查出|核查|核实|知道|审核|入户)",
    r"(怎么|咋|如何|才能|好让|让)(他们|人家|政府|村里|民政)?查不(到|出)",
    r"(转到|转给|过户给|过户到|挂到|挂在|记到|放到)(别人|亲戚|儿子|女儿|孩子|父母|老人|我妈|我爸|朋友|他人).{0,2}名下",
    r"(存款|钱|房子|房产|车子|车)(先)?(放|转|存|挂|过户)(到|在|给)?(亲戚|别人|朋友|儿子|女儿|孩子|父母|老人|他人)",
)
_GAIN = re.compile(rf"(吃|领|拿|评|申请|办|享受|评上|骗|进|住)(上|到|了|着)?.{{0,3}}({_BENEFIT})")

# ---------------------------------------------------------------- fabrication
# Requests to invent a policy or a figure, to "just estimate", or to confirm a claim whatever the plans
# say. "编" alone is not enough ("教师编制", "编程培训"), so it needs a measure word. Asking whether a
# rumour is true ("听说…是真的吗") is a real question and is answered from the plans.
_FABRICATE = _any(
    r"((?<![改汇新主选收])编(一|个|条|份|点|些|出|造|一下|几|段|篇|套)|捏造|虚构|杜撰|瞎写|瞎编|胡编|乱编|乱写|假装|凭空)"
    r".{0,12}(政策|文件|规定|通知|补贴|标准|数字|数据|金额|条款|条例|细则|名额|办法)",
    r"瞎编|胡编|乱编|胡诌|无中生有",
    r"随便(估|编|猜)|随便(说|写|给|报|填)(一个|个|点)(数|数字|金额)?|(瞎|乱)(估|蒙)|瞎(猜|报)(一个|个|一下)",
    r"(?<![评预])估(一个|个|一下|算一下)|猜(一个|个)(数|数字)|蒙(一个|个)|你(自己)?(估计|估摸|估算|推测|猜)(一下)?.{0,12}(多少|几|数)",
    r"(大概|大致|差不多|估计)的?(数|数字|金额)(就行|就好|也行|也可以|就可以)",
    r"(不准|不准确|不对|错了|瞎说)(也|都)?(没关系|没事|无所谓|不要紧)",
    r"(规划|文件|原文)里?(没有?写|没说|没提|没有)(的话)?(也|你也|那你?就|你就)(没关系|没事|无所谓|要|得|给|编|估|随便|照样)",
    r"(规划|文件|原文)里?(没有?写|没说|没提|没有)也?(没关系|没事|无所谓)",
    r"不管(规划|文件|原文)里?(有没有|写没写|怎么写|怎么说)",
    r"你(就|只要|只管|只需)(说|回答|回复|承认|确认)(一?句|一?声)?(是|对|有|真的|没错|属实|可以)(?![或还不否没吗])",
    r"(说|回答|回复|告诉我|确认)(个|一?句|一?声)?(是真的|是|对|有|真的|属实|没错)(就行|就好|就可以|即可|就成|就完事)",
    r"顺着我(说|的意思)",
    r"(不知道|不清楚|查不到|没写|没有写)(的话)?(就|也|你就|那就)(猜|估|编|随便|瞎)",
    r"(写|拟|起草)(一?个|一?条|一?份|一?套|条|份|个|套)(新的?|假的?)?.{0,6}"
    r"(政策|规定|标准|条例|细则|办法)(?!解读|摘要|总结|说明|要点|清单|吗)",
    r"写得?像真的|假的也行",
)

# ---------------------------------------------------------------- personal data (someone else's)
# Lists of recipients, identifiers of a named person, and who in the village gets what. Categories of
# people ("老人的收入低能领吗", "哪些人能享受") are eligibility questions and pass: a pattern needs a
# specific person, a "who has it now" tense, or a request to hand someone's data over.
_PD_ID = (
    r"身份证号码?|身份证|手机号码?|电话号码?|联系电话|电话|联系方式|家庭住址|住址|微信号?|银行卡号?|医保卡号|社保卡号|"
    r"卡号|个人信息|病历|户籍信息|存款"
)
_PD_STRONG = (
    r"身份证|手机号|家庭住址|住址|微信号?|银行卡号?|医保卡号|社保卡号|卡号|个人信息|病历|户籍信息|存款"
)
_PD_ITEM = _PD_ID + r"|住哪|住在哪|家在哪|家住哪|工资|收入|病情|隐私"
_SURNAME = (
    r"[张王李赵刘陈杨黄吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆"
    r"汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤蒙农]"
)
_SOMEONE = (
    rf"邻居|隔壁|同事|亲戚|前妻|前夫|村主任|村长|村支书|支书|村干部|网格员|某某|张三|李四|王五|这个人|那个人|此人|某人|"
    rf"老{_SURNAME}|{_SURNAME}某"
)
_HAND_OVER = r"导出|发我|发给我|给我|告诉我|列出|列一下|透露|查一下|帮我查|查查|查下|拿出来|调出来|公布"
_WHO = r"谁|哪些人|哪几个人|哪几家|哪几户|哪家|哪户"
_PERSONAL = _any(
    r"(名单|花名册|人员信息|户名单)(导出|发我|发给我|发一份|发过来|给我|给一份|告诉我|列出|提供|透露|拿出来|调出来)",
    rf"({_PD_ID}).{{0,6}}(导出|发我|发给我|列出|列一下|拿出来|调出来)",
    rf"({_HAND_OVER}|提供)(一下)?.{{0,12}}(名单|花名册)",
    # "告诉我申请低保的电话" asks for a hotline; a phone number is personal with a person's name before it
    rf"({_HAND_OVER})(一下)?.{{1,12}}的({_PD_STRONG})",
    rf"({_HAND_OVER})(一下)?.{{0,6}}{_SURNAME}[\u4e00-\u9fff]{{1,2}}的({_PD_ID})",
    rf"({_SOMEONE})(家|的|家的)?.{{0,3}}({_PD_ITEM})",
    r"(谁家|都有谁|有谁家?)(在|正在|已经|都|还)?(吃|领|拿|享受|评上|评了|是|办了|得了|占着|住着)",
    rf"(村里|我们村|村上|这个村|那个村|隔壁村|全村|本村|镇上|屯里|组里|队里|小区里?|楼里|单位里).{{0,6}}({_WHO}|有谁)"
    r"家?(在|正在|已经|都|还)?(吃|领|拿|享受|评上|评了|是|办了|得了)(了|着|过)?",
    rf"({_WHO})(在|正在|已经|都)(吃|领|拿|享受)(了|着)?|({_WHO})(吃|领|拿)(了|着|过)",
    r"(低保户|特困户|五保户|贫困户|困难户|领补贴的|吃低保的|领低保的)(人|家)?.{0,6}"
    r"(都有谁|有哪些人|有哪几家|有哪几户|是谁|是哪些人|是哪几家|叫什么名字|姓什么)(?!能|可以|可|符合|才)",
    r"(低保|补贴|名额|公租房).{0,4}(给了|发给了|批给了|评给了|落到)(谁|哪家|哪些人|哪几户)",
    # a neighbour's benefit: same clause only ("亲戚都借遍了，有没有救助" asks for the resident's own help)
    rf"({_SOMEONE}|他家|她家|他们家)(家)?[^,.?!;]{{0,10}}(是不是|是否|有没有|有无|在不在)"
    rf"(?!也?(能|可以|可|符合|够|有资格|资格))(在)?(吃|领|拿|享受|是)?[^,.?!;]{{0,4}}({_BENEFIT})",
    rf"({_SOMEONE}|他家|她家|他们家)(家)?[^,.?!;]{{0,8}}(领了|拿了|吃了|领|拿)(多少|几|啥|什么)",
    rf"({_SOMEONE}|他家|她家|他们家)(家)?[^,.?!;]{{0,10}}({_BENEFIT}|收入)[^,.?!;]{{0,6}}(多少|几百|几千)",
    rf"(查|查一下|查查|帮我查|告诉我|打听)(一下)?(他|她|他们|她们)(的|家)?.{{0,3}}({_PD_ITEM}|{_BENEFIT})",
    # someone identified by an ID number: "身份证号4501…的人有没有领补贴"
    r"\d{15,17}[\dx]?.{0,12}(的人|这个人|那个人|此人|名下|有没有领|领没领|领了|是不是)",
)
# An office's phone number or address is public information, not someone's personal data: blank such
# phrases out before matching, so "告诉我社保局的电话" goes on to retrieval (and is declined there when
# the plans do not say).
_OFFICE_CONTACT = re.compile(
    r"(局|中心|窗口|大厅|办事处|部门|热线|医院|卫生院|学校|政府|街道|社区|居委会|村委会|派出所|机构|公司|单位|站|所|"
    r"申请|办理|咨询|投诉|举报|办事)的?(联系|咨询|办公|服务)?(电话|号码|地址|联系方式)"
)

# ---------------------------------------------------------------- personal records (one's own)
# Balances, contribution years and the progress of one's own application live in the departments'
# systems; the bot cannot see them. A question about *where or how* to look them up is a fair question
# ("想查一下养老保险交了多少年，打哪个电话") and is not declined here.
_OWN = r"我|俺|本人|我家|我们家|我妈|我爸|我老婆|我老公|我孩子|我儿子|我女儿|我奶奶|我爷爷|我父母|家里"
_PROGRESS = (
    r"批了没|批了吗|批下来了?(没|吗)|批没批|批了没有|审核到|审到哪|审核通过了?(没|吗)|通过了没|通过没|通过了吗|"
    r"过了没|到哪一步|到哪步|办到哪|办得怎么样了|办好了没|办下来了?(没|吗)|"
    r"到[账帐]了?(没|吗|么|嘛)|还没到[账帐]|没到[账帐]|到没到[账帐]|[账帐]到了没|发了没|发了吗|发下来了?没|"
    r"下来了?没|结果出来了?(没|吗)|有结果了吗|有消息了?(吗|没)|到哪了|到什么程度了|"
    r"怎么还没(批|到|发|下来|消息|通知|审|动静)|还没(批|发下来|下来|收到|通知|消息)"
)
_PERSONAL_RECORD = _any(
    r"(社保卡|医保卡|公积金|个人账户|账户|卡)(里|上)?面?的?(余额|还有多少|还剩多少|剩多少|剩下多少|有多少钱|有几多钱)"
    r"(?!年|个|天|人)",
    r"(社保|医保|养老保险|养老金)(账户|卡)?(里|里面|上)(还有|还剩|剩|有)(多少|几多)",
    r"余额(是|有|还有)?多少|查.{0,4}余额",
    # "交了几年社保，能领吗" states a few years; "我社保交了几年了？" asks. 多少年 always asks.
    rf"({_OWN})的?.{{0,6}}(交了|缴了|交过|缴过|交够|缴够)(多少年|多久|多长时间|多少个月)(?![才就能可])",
    rf"({_OWN})的?.{{0,6}}(交了|缴了|交过|缴过)(几年|几个月)了?(吗|呢|啊|\?|$)",
    r"(交了|缴了)多少年的?(社保|医保|养老保险|公积金)?(?![才就能可])",
    rf"({_BENEFIT}|申请|审批|审核|材料|手续|认定).{{0,10}}({_PROGRESS})",
    rf"({_OWN})的.{{0,8}}({_PROGRESS})",
    r"(申请|审核|审批|办理|报销|认定|我的|办件)的?.{0,3}进度",
    rf"(?<![检审调排普考核追抽复])(查|查询|查下|查查|查一下|查看|调出|调取)(一下)?({_OWN})(的|名下)(?!情况|条件)",
    rf"({_OWN}).{{0,10}}(怎么|咋|为啥|为什么|为何)(还?(没|少)(发|到|打|给|批)|被?(停|取消|断|停发|扣)|变?少了)",
)
_WHERE_TO_CHECK = re.compile(
    r"(怎么|咋|如何|怎样|在哪|去哪|哪里|哪儿|上哪)(里|儿)?(能|可以|才能|去)?(查|查询|问|看)|"
    r"打(哪个|什么|啥)电话|找谁|哪个部门|网上|app|小程序|公众号|热线"
)

# ---------------------------------------------------------------- personal legal / medical advice
# A judgement on one person's case (sue or not, will I win, which drug, is this diagnosis right) needs
# a lawyer or a doctor. Questions about the public service itself ("有没有免费法律援助", "慢性病有人管吗",
# "我想告他又请不起律师", "家庭医生要不要签约") are answered from the plans.
_PERSONAL_ADVICE = _any(
    # legal: working out what one person is owed is a lawyer's or an arbitration committee's job
    r"(帮我|给我|替我|你)(算|计算|算算|估算|核算)(一下|一算|下)?.{0,10}(赔|补偿|赔偿|能拿|拿多少|多少钱|多少)",
    r"(赔|赔偿|补偿|赔付).{0,12}(帮我|给我|替我)(算|计算|算算|估算)",
    r"(能|可以|应该|该|会)(赔|赔偿|补偿|补)(给)?我(多少|几)",
    r"(能|可以|应该|该|会|要)(赔|赔偿|补偿)我?(几个月|多少个月)",  # months of pay: one case worked out
    r"(我|俺)(该|应该|要)?(怎么|咋|如何)(去)?(起诉|告(?![诉知])|打官司|申请仲裁)",
    r"(该不该|要不要|应不应该|应该不应该|值不值得|值得|有没有必要|划不划算|划算)(去)?"
    r"(起诉|告(?![诉知])|打官司|打这个官司|上诉|上法院|报警|私了|和解|离婚|签(字|合同|协议|这份|这个))",
    r"告得赢|打得赢|赢不赢得了|能告赢|告赢|胜诉(率|的?(可能|把握|几率|概率))|胜算|赢面|能赢吗|会赢吗|会输吗|能打赢|"
    r"赢的(可能|把握|几率|概率)",
    r"(会不会|会|要不要)被?(判刑|坐牢|拘留)|判几年|判多久|判多少年",
    r"(帮我|替我|给我)(写|起草|拟)(一?份|个)?(起诉状|诉状|起诉书|答辩状|上诉状|仲裁申请书|律师函|遗嘱|协议|合同)",
    r"(帮我|替我|给我)(看看|看一下|看下|审一下|审核|分析一下|分析)(这个|这份|我的)?(合同|协议|判决书|借条|欠条|遗嘱|起诉书)",
    r"(离婚|分家|遗产|继承).{0,8}(孩子归谁|房子归谁|财产怎么分|能分多少|分多少|归谁)",
    # medical
    r"(吃|用|开|打|服|喝|擦|抹)(什么|啥|哪种|哪个|哪些)(药|药物|中药|西药|偏方|抗生素)(?!能报|可以报|报销|能用医保|免费|医保)",
    r"偏方",
    r"(能不能|可不可以|可以|能)(吃|服用|喝).{0,4}药(吗|么|嘛|不|\?|$)",
    r"(药|这药|这个药).{0,6}(怎么吃|吃几片|吃多少|一天吃几|副作用|能不能停|可以停|能停吗|要不要停|加量|减量)|剂量",
    r"(帮我|给我|麻烦)(看看|看一下|看下|瞧瞧|分析|分析一下|解读|解释一下)(我的|我妈的|我爸的|这个|这份|这张|孩子的|娃的)?"
    r"(诊断|化验单|检查单|检验单|报告|报告单|片子|ct|b超|彩超|验血单|血常规|体检报告|病历|心电图|核磁)",
    r"这(个|种)?(病|症状|毛病).{0,4}(吃什么|吃啥|怎么治|咋治|严不严重|严重吗|要紧吗|要不要紧|能治好|能不能治好|会不会死|"
    r"会遗传|是什么病|是啥病|要不要手术|需不需要手术)",
    r"(是不是|会不会|有没有可能|可能是)(得了|患了|有)?(癌|肿瘤|癌症|白血病|抑郁症|糖尿病|高血压|心脏病|脑梗|中风|怀孕了|"
    r"什么病|啥病)(了)?(吗|啊|呀|呢)?\??$",
    r"(化验单|检查单|检验单|报告单|片子|ct|b超|彩超|验血单|血常规|体检报告|病历|心电图|诊断书?)(你)?(帮我|给我|麻烦)"
    r"(看看|看一下|看下|瞧瞧|分析|解读)",
    r"(头疼|头痛|头晕|发烧|发热|咳嗽|拉肚子|腹泻|肚子疼|胸闷|胸口疼|心慌|失眠|便秘|呕吐|过敏|起疹子|血压高|血糖高|"
    r"血压偏高|血糖偏高|尿酸高|血脂高|眼花|乏力|没力气|腰疼|腿疼|关节疼|胃疼|牙疼).{0,16}(吃什么|吃啥|怎么治|咋治|要紧吗|要不要紧|严重吗|要不要去医院|挂什么科|"
    r"什么原因|怎么降|咋降)",
    r"(要不要|该不该|需不需要|用不用|能不能)(再)?(加|换|停|减|多吃|少吃)(一种|一个|一点|点|些)?(药|量)",
    r"(要不要|该不该|需不需要|用不用|有没有必要)(做|动|开)?(手术|化疗|放疗|住院|透析|打胰岛素|吃药|停药|剖腹产|顺产|引产|"
    r"打掉|流产)(?!才|的|费|报|能报|也能)",
    r"(诊断|检查结果|化验结果|报告).{0,6}(准不准|对不对|靠谱吗|可信吗)|是不是误诊",
)

# ---------------------------------------------------------------- political
# The bot repeats what the plans say and takes no side: requests for its opinion of the government,
# the party, leaders or policies, insults put as questions, and sensitive political topics.
# "怎么样" alone is not an opinion request ("残疾人就业政策怎么样" asks what the policy is).
_POL_TARGET = (
    r"政府|党中央|共产党|中共|党|国家领导人?|领导人|领导|主席|总书记|总理|书记|省长|市长|县长|干部|官员|当官的|体制|"
    r"制度|中央|国家|规划|政策|社会主义|习近平|习主席|毛泽东|毛主席|邓小平|江泽民|胡锦涛|李克强|李强|人大|政协|公务员"
)
_POL_VERDICT = (
    r"好不好|好吗|坏|对不对|对吗|错|公平|合理|靠谱|怎么样|咋样|行不行|有用吗|有没有用|没用|成功|失败|称职|合格|腐败|贪污|"
    r"英明|伟大|厉害|差劲|烂|能不能实现|能实现吗|会不会实现|落实得了|兑现|可信|信得过|真心|骗|忽悠|画饼|打几分|几分"
)
_POLITICAL = _any(
    rf"你(觉得|认为|的看法|个人认为|个人觉得).{{0,12}}({_POL_TARGET}).{{0,10}}({_POL_VERDICT})",
    rf"你(怎么看|咋看|如何看待?|怎么评价|咋评价|评价一下|给.{{0,6}}打分).{{0,12}}({_POL_TARGET})",
    rf"({_POL_TARGET}).{{0,12}}(你怎么看|你咋看|你如何看|你的看法|你怎么评价|评价一下|你支持吗|你同意吗|你满意吗)",
    r"(共产党|党中央|中共|政府|国家领导人|领导人|总书记|主席|总理|习近平|习主席|毛泽东|毛主席|邓小平|社会主义)(到底|究竟)?"
    r"(好不好|好吗|坏不坏|行不行|靠不靠谱|靠谱吗|伟大吗|英明吗|腐败吗|可信吗|值得信任吗)(?!申请|办|领|用|找|考|联系|打)",
    r"你(支持|拥护|喜欢|爱|反对|恨|讨厌|相信|认同)(不支持|不拥护|不喜欢|不爱|不)?(中国)?"
    r"(共产党|党|政府|习|主席|社会主义|国家|领导)",
    rf"你对.{{0,12}}({_POL_TARGET}).{{0,8}}(看法|评价|观点|态度|怎么看)",
    r"你(爱国|爱党)|(中国|国内|我们国家|政府|共产党)(是不是|算不算|就是|是)?(个|一个)?(独裁|专制|极权)",
    rf"({_POL_TARGET})(就是|都是|是不是|是在|纯属|全是|根本|真是|果然|也太|太|简直)?(很|太|特别|非常|真|好|都|也|有点|越来越)?(在)?"
    r"(骗人|骗子|骗我们|骗老百姓|忽悠|画饼|画大饼|作秀|做样子|走过场|形式主义|面子工程|形象工程|政绩工程|搞形象|"
    r"腐败|贪污|贪官|不作为|乱作为|"
    r"无能|垃圾(?!分类|处理|清运|站|桶|中转)|废物|狗屁|放屁|屁用|没卵用|假大空|空话|一纸空文|洗脑|独裁|专制|黑暗|"
    r"流氓|土匪|吸血|剥削|该下台|下台)",
    r"六四(事件|运动|屠杀|学潮|镇压|那年|纪念)|八九六四|64事件|八九(学潮|民运)|天安门(事件|屠杀|母亲)|法轮|"
    r"台独|藏独|疆独|港独|新疆(集中营|再教育|种族)|再教育营|种族灭绝|维吾尔.{0,6}(迫害|镇压|集中营)|达赖|西藏独立|"
    r"台湾独立|台湾(是不是|是|算不算)(一个)?(国家|独立)|反送中|香港(暴乱|暴动|示威|游行|抗议)|民运人士|民主运动|"
    r"颠覆(国家|政权)|推翻(政府|共产党|政权)|翻墙|文革|文化大革命|大跃进|(三年|大)饥荒|刘晓波|艾未未|反右|"
    r"白纸(运动|革命)|习(包子|维尼)|包子帝|修宪|连任.{0,4}(主席|习)|多党制|三权分立|言论自由|新闻自由|人权(问题|状况)|"
    r"(中国|国内|我们国家)(有没有|是不是|算不算|有)(民主|自由|人权|独裁|专制)(吗|么|嘛|可言|\?|$)|"
    r"(共产党|中共|政府)(什么时候|会不会|迟早)(倒台|垮|完蛋|下台)|武统|统一台湾|收复台湾|解放台湾",
    r"你(是不是|是)(党员|共产党员|五毛|水军)|你(被)?(审查|和谐|屏蔽)了",
    # the bot's own stance on anything: it repeats the plans and takes no side
    r"你(个人)?(支不支持|支持不支持|赞不赞成|赞成不赞成|同不同意|同意不同意|认不认同|反不反对|拥不拥护)",
    rf"({_POL_TARGET})(们)?(干|做|当)得(怎么样|咋样|如何|好不好|行不行|好吗|称不称职|合格吗|够不够格)",
    r"是不是(在)?(搞|做)?(形象工程|面子工程|政绩工程|形式主义|作秀|画饼)",
)

# ---------------------------------------------------------------- transactions
# Booking, registering or filing on the resident's behalf. "挂号难", "养老院床位怎么预约" or "政府能不能
# 帮忙办" are questions about a service, so a booking verb needs "帮我", an imperative start, or a slot.
_BOOK = r"(?<![签节制公契条大隐缩制])"  # 约 as in 预约, not 签约/节约/大约
_TRANSACTION = _any(
    r"(帮我|替我|你(帮|给|替)我|能不能帮我|可以帮我|请帮我|帮俺)(在.{0,8})?"
    r"(办|交|缴|申请|报名|提交|约|预约|挂|抢|订|预订|登记|填|递交|续|代缴|打印)",
    r"^(预约|挂|约|订|抢)(一下|个|一个|明天|后天|今天|下周|周[一二三四五六日末]|上午|下午)",
    rf"(挂(?![钩靠职牌])|{_BOOK}约|预约|抢)(个|一个|张|一张)?.{{0,12}}(专家号|号源|门诊号|儿科号|产检号|床位号|专家的号)",
    rf"(挂(?![钩靠职牌])|{_BOOK}约)(个|一个|张|一张).{{0,6}}号|抢(号|床位)",
    r"(帮我|给我|替我|你来?|你们)代办|代办一下",
)

# ---------------------------------------------------------------- real-time information
# The plans are five-year documents: they cannot say whether it rains tomorrow, a road is closed or an
# office is open today, and a city name does not make such a question answerable. Weather words alone
# are not enough ("下雨就漏", "台风把屋顶掀了，有啥救助" ask about relief), nor are opening words
# ("图书馆周末开不开门", "现在体育馆免费开放吗" ask about the plans' opening policy; "我现在在南宁上班"
# is about a job), nor waiting ("公办养老院要排队多久" is a waiting list, not a queue today).
_NOW = r"中午|今天中午|今天|今日|今早|今晚|今儿|明天|明早|明儿|后天|现在|这会儿|此刻|当下|眼下|马上|待会|等会"
_TODAY = r"今天|今日|今早|今晚|今儿|明天|明早|明儿|后天|这会儿|此刻"
_VENUE = (
    r"局|中心|窗口|大厅|政务|办事处|医院|卫生院|诊所|社区|居委会|村委|街道|派出所|车管所|图书馆|博物馆|文化馆|美术馆|"
    r"体育馆|体育场|游泳馆|科技馆|纪念馆|银行|营业厅|学校|幼儿园|公园|柜台|部门|人社|民政|医保|社保|公积金|税务|"
    r"不动产|营业部|服务站|服务点"
)
_ASKING = r"(吗|没|不|么|嘛|了没|了吗|没有|\?|$)"
_REALTIME = _any(
    # weather
    r"天气(怎么样|咋样|如何|好不好|好吗|预报|情况|热不热|冷不冷)|(今天|明天|后天|今晚|这周|周末|这几天|下周)的?天气|气温",
    r"(会|要|能)下(雨|雪)|下(雨|雪)(吗|不|没|了没|么)|下不下(雨|雪)|冷不冷|热不热|多少度(?!电)|几度",
    r"(刮|来|起)台风了?(没|吗|不|么)|台风.{0,6}(来不来|什么时候|何时|到哪|登陆|路径|几级|会不会|走了没|过了没|来了没)|暴雨.{0,4}(预警|什么时候|会不会)",
    rf"({_NOW}|这周|周末|这几天|下周).{{0,6}}(刮风|下雨|下雪|降温|升温|晴天|阴天|出太阳|有雾|雾霾)(?!就|天|时|的时候|也)",
    r"空气质量|pm2\.?5|紫外线|几点日出|日出时间|日落时间",
    # traffic
    r"限行|限号|尾号.{0,3}(限|能不能开|能开吗)|单双号|堵车|堵不堵|塞车|路况|交通管制|封路|道路封闭|"
    r"(路|桥|高速|隧道).{0,4}(封了|封闭|通了没|通车了吗|堵吗)",
    r"(公交|地铁|火车|高铁|航班|飞机|班车|客车|动车).{0,8}(晚点|停运|延误|时刻表|末班|首班|到哪了|几点(发车|到|开))|"
    r"(高铁|火车|飞机|汽车|动车)?票.{0,4}(还有吗|还有没有|卖完|卖光|有没有票)|余票|抢票|"
    r"(大巴|班车|客车|火车|高铁|动车|飞机|航班|汽车)(今天|明天|后天|现在)?.{0,4}(还有没有|还有|有没有)(余)?票",
    # utilities
    r"停水|停电|停气|断水|断电|断网|停暖|没水了|没电了|来水了(吗|没)|来电了(吗|没)|什么时候来(电|水)|燃气.{0,4}(停|断)",
    # is an office open / how long is the queue, today
    rf"({_NOW}).{{0,12}}(开门|关门|营业|办公)(了)?{_ASKING}",
    rf"({_TODAY}).{{0,12}}开放(了)?{_ASKING}",
    rf"({_VENUE}).{{0,12}}({_NOW}).{{0,8}}(上班|下班|有人|放假|休息|开着|上不上班|开不开|开没开)(了)?{_ASKING}",
    rf"({_NOW}).{{0,8}}({_VENUE}).{{0,8}}(上班|下班|有人|放假|休息|开着|上不上班|开不开|开没开)(了)?{_ASKING}",
    rf"(国庆|春节|过年|五一|中秋|端午|元旦|清明)(期间|那几天|放假)?.{{0,8}}({_VENUE})?.{{0,4}}(上班|办公|开门|营业)"
    r"(吗|不|没|么)",
    rf"({_NOW}).{{0,10}}(排队|排长队|排|等号|叫号|取号|等).{{0,6}}(多久|多长时间|几个小时|几小时|人多|多少人|长不长|几号|到几)",
    r"(现在|今天|明天|这周|还)(还)?(有没有|有|剩)(没有)?(号|号源|专家号|余号)(吗|没|不|么|了)?|(挂不挂|挂不挂得)(上|到)号|还能挂(上|到)?号",
    rf"({_NOW}).{{0,10}}(人多不多|人多吗|人多么|人很多吗|人挤不挤)",
    rf"({_VENUE}).{{0,8}}(排队|排号|等号|叫号|取号).{{0,6}}(多久|多长时间|几个小时|多少人|几号|人多不多|长不长)",
    r"前面(还有)?(几个|多少)人|叫到(几号|多少号)|排到(几号|多少号)",
    # news, markets, date
    r"(今天|今日|昨天|昨晚|刚刚|刚才|最新|这两天|最近|今早).{0,6}(新闻|热搜|头条|要闻|快讯|发布会)|新闻联播|"
    r"(今天|最近|刚才|刚刚)发生了什么|疫情(数据|最新|通报)|(今天|今日|昨天|最新)的?疫情",
    r"汇率|(美元|美金|港币|港元|日元|欧元|英镑|卢布|泰铢|越南盾|韩元).{0,6}(兑|换|汇率|多少|人民币)|人民币.{0,4}(兑|汇率)",
    r"股票|股价|股市|大盘|(?<![保险筹资])基金(净值|行情|推荐|怎么买|涨|跌|能买)|买(什么|啥|哪个|哪只)?基金|比特币|币价|"
    r"彩票(号码|中奖|开奖|怎么买|买什么)|开奖|双色球|大乐透",
    r"金价|油价|菜价|猪肉价|肉价|房价走势|(今天|今日|今早|这几天|这两天|这周|本周|昨天).{0,8}(价格|行情|价钱|报价)|"
    r"多少钱一(斤|升|克|公斤)|一(斤|升|克|公斤)多少钱|几块钱?一(斤|升)",
    r"现在几点|几点了|(今天|今儿)(是)?(星期几|周几|几号|几月几号|农历|礼拜几)|今天日期",
    r"(球赛|世界杯|nba|cba|欧冠|奥运会?|比分).{0,6}(谁赢|结果|比分|几比几)|谁赢了",
)

# ---------------------------------------------------------------- messages
_HOTLINE = "当地12345政务服务便民热线"
_MESSAGES = {
    "injection": "抱歉，我只能依据广西、宁夏的公共服务规划回答问题，不能执行这类指令，也不能透露或更改我的设定。",
    "fraud": (
        "抱歉，我不能提供骗取、冒领、虚报待遇的办法，也不能制作或伪造证明、公文一类的材料。申请补贴和救助请如实提供材料；"
        f"有疑问可以拨打{_HOTLINE}，或到相关部门的政务服务窗口咨询。"
    ),
    "fabrication": (
        "抱歉，我不能编造或估算政策和数字，也不能替规划里没有的说法作确认。我只转述广西、宁夏规划原文并注明出处；"
        f"规划没写的，请向{_HOTLINE}或相关部门核实。"
    ),
    "personal_data": (
        "抱歉，我不能查询或透露任何他人的个人信息（名单、身份证号、电话、住址，或谁享受了低保、补贴等）。"
        f"如需反映情况，可以拨打{_HOTLINE}。"
    ),
    "personal_record": (
        "抱歉，我看不到任何个人的账户、缴费或申请办理记录，没法查余额、缴费年限或审批进度。请拨打"
        f"{_HOTLINE}，或通过相关部门的政务服务平台、办事窗口查询本人信息。"
    ),
    "political": (
        "抱歉，我不讨论政治话题，也不对政府、政党、领导人或政策发表评价。"
        "我可以介绍广西、宁夏“十四五”公共服务规划里写明的服务内容。"
    ),
    "personal_advice": (
        "抱歉，我不能针对个人情况给出法律或医疗建议（比如该不该起诉、能不能胜诉、用什么药、诊断对不对）。"
        "法律问题可以咨询当地的法律援助机构或公共法律服务窗口，看病用药请到正规医疗机构就诊、遵医嘱。"
        "我可以介绍规划里写明的法律援助、基本医疗等公共服务。"
    ),
    "transaction": "抱歉，我不能代办、预约或挂号，只能解答规划里写明的公共服务。",
    "realtime": (
        "抱歉，天气、路况、限行、排队、停水停电、当天是否办公、新闻、汇率和价格这类实时信息我查不到，"
        "我只能解答广西、宁夏“十四五”公共服务规划里写明的内容。请以当地官方发布的信息为准，"
        f"也可以拨打{_HOTLINE}咨询。"
    ),
}


# Someone reporting fraud ("举报骗取低保有奖励吗") is not asking how to commit it.
_REPORTING = re.compile(r"(?<!被)(举报|揭发|检举|反映|曝光|查处|打击|防范|防止|严惩)")


def _is_fraud(compact: str) -> bool:
    if any(
        not _REPORTING.search(compact[max(0, m.start() - 10) : m.start()]) for m in _FRAUD.finditer(compact)
    ):
        return True
    return bool(_CONCEAL.search(compact) and _GAIN.search(compact))


def _is_personal_data(compact: str) -> bool:
    return bool(_PERSONAL.search(_OFFICE_CONTACT.sub("", compact)))


def _is_personal_record(compact: str) -> bool:
    return bool(_PERSONAL_RECORD.search(compact)) and not _WHERE_TO_CHECK.search(compact)


def decline_code(question: str) -> str | None:
    """The reason code check_question would decline with, or None (the patterns only, no message)."""
    spaced, compact = _normalize(question)
    # Order: manipulation first (an injected instruction may ride on a legitimate question), then the
    # requests that are harmful whatever the topic, then the ones the plans simply cannot answer.
    if _INJECTION_ZH.search(compact) or _INJECTION_EN.search(spaced):
        return "injection"
    if _is_fraud(compact):
        return "fraud"
    if _FABRICATE.search(compact):
        return "fabrication"
    if _is_personal_data(compact):
        return "personal_data"
    if _is_personal_record(compact):
        return "personal_record"
    if _POLITICAL.search(compact):
        return "political"
    if _PERSONAL_ADVICE.search(compact):
        return "personal_advice"
    if _TRANSACTION.search(compact):
        return "transaction"
    if _REALTIME.search(compact):
        return "realtime"
    return None


def check_question(question: str) -> Refusal | None:
    """A refusal for requests no plan can answer or the bot must not serve; None for a real question."""
    if code := decline_code(question):
        return Refusal(code, _MESSAGES[code])
    mentioned_other = detect_elsewhere(question)
    if mentioned_other and not detect_regions(question):
        return Refusal(
            "other_region",
            f"抱歉，我只掌握广西和宁夏的“十四五”公共服务规划，没有{mentioned_other[0]}的政策信息。",
        )
    return None


# Classes no answer to a form question ("是", "62岁", "南宁", "广东") can fall into: the chat gateway
# declines them before the dialogue manager sees the message, so none of them can start or steer the
# eligibility form whatever the intent classifier makes of it. other_region and transaction are left to
# the dialogue: "广东" is a fair answer to "您的户籍在哪里？".
DECLINED_BEFORE_DIALOGUE = frozenset(
    {
        "injection",
        "fraud",
        "political",
        "personal_record",
        "personal_data",
        "personal_advice",
        "realtime",
        "fabrication",
    }
)


def decline_before_dialogue(message: str) -> Refusal | None:
    refusal = check_question(message)
    return refusal if refusal and refusal.code in DECLINED_BEFORE_DIALOGUE else None


# ---------------------------------------------------------------- money vs indicator figures
# A money question ("每个月发多少钱", "补贴多少") must be answered with a money figure the plans state,
# or declined. Indicator questions ("2025年目标是多少", "有多少所", "多少万张") ask for counts, rates and
# targets, which the plans' indicator tables and 专栏 do give: treating them as money would decline them.
_NOT_MONEY_UNIT = (
    r"(?!个|所|张|人|名|家|户|项|次|岁|年|天|月|周|级|倍|成|类|种|条|座|处|批|期|位|万人|万张|万个|万所|%|公里|平方|"
    r"小时|分钟|号|床|支|间|套|层|米|公顷|亩|斤|度)"
)
_MONEY_WORD = (
    r"补贴|补助|补偿|补|发放|发|给|领|报销|报|赔偿|赔|奖励|奖|贷款|贷|资助|津贴|救助金|救助|供养|保障|抚恤金|抚恤|优待金|"
    r"养老金|退休金|低保金|低保|失业金|生活费|学费|保费|费用|收费|缴费|交费|缴|交|工资|助学金|掏|花|出"
)
_AMOUNT = _any(
    r"多少钱|几多钱|多少元|几元|多少块|几块钱|几块|几毛|几[百千万]块|几[百千万]元|多少万元|多少万块",
    rf"({_MONEY_WORD})的?(标准|金额|额度)?(是|为|有|能有|能|可以|要|得|大概|一般|大约|最多|最少|最高|最低|一共|总共|"
    rf"每月|每年|每人|一个月|一年|每个月)*(多少|几){_NOT_MONEY_UNIT}",
    rf"每个?月.{{0,6}}(多少|几){_NOT_MONEY_UNIT}",
    r"金额|额度",
    r"报销比例|报销.{0,4}(几成|百分之|比例)|能报几成|自付.{0,4}(多少|比例)",
)
_INDICATOR = _any(
    r"指标|目标值?",
    r"(20[12]\d|二〇二[〇五])年?.{0,16}(多少|几|达到|目标|要|提高|降到|实现)|十四五末|到期末",
    r"(率|(?<!报销)(?<!报)比例|比重|占比|覆盖面?|床位数|人数|数量|总量|面积|年限|寿命|规模|密度|个数|家数|所数|张数)"
    r"(要|将|能|会|应|须|需|已经|现在)?(达到|提高到|提升到|增加到|降低到|降到|控制在|保持在|稳定在|超过|不低于|不少于|到|占)?"
    r"(是|为|有|了)?(多少|几|百分之)",
    r"每(千|万|百|十万|百万)(人口?|名|个)|人均.{0,12}(多少|几|达到|面积|年限|寿命)",
    r"(达到|提高到|提升到|增加到|降低到|降到|控制在|保持在|增至|超过|不低于|不少于)(多少|几)",
    r"(多少|几)(个(?!月|小时|工作日)|所|张|座|家|项|名|支|处|条|类|种|县|批|级|万张|万人|万个|平方米|公顷|万平方米|千米|"
    r"公里|床)",
    r"(一共|共|总共|合计|总计|分别|各)(有|是|为|要|包括|包含|列了|列出)?(多少|几)",
)


def asks_for_amount(question: str) -> bool:
    """The question asks for a money amount (an allowance, a fee, a reimbursed sum), not a count or rate."""
    return bool(_AMOUNT.search(_normalize(question)[1]))


def asks_for_indicator(question: str) -> bool:
    """The question asks for a plan indicator: a target, rate, count, per-capita figure or 2020/2025 value."""
    return bool(_INDICATOR.search(_normalize(question)[1]))


_MONEY_FIGURE = re.compile(r"\d[\d.,，]*\s*(元|千元|万元|亿元|万亿元)")


def states_money_figure(text: str) -> bool:
    return bool(_MONEY_FIGURE.search(text))


# ---------------------------------------------------------------- money figures a resident asserts
# "听说每月补800元是真的吗": the composer may only repeat 800元 if a cited quote states it. Figures come
# back canonical, "<yuan>元" (800元, 15000元), so "八百块", "800块钱" and "800 元" compare equal; use
# text_states_figure(quote, figure) to test a quote, since plans write "1.2 万元" as often as "12000元".
# Vague amounts ("几百块", "一两百") are not claims. The resident's own money (收入、工资、花了、欠了)
# is a fact about them, not a claim about the policy, and is left out.
_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000, "亿": 100000000}
_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_FIGURE = re.compile(
    rf"(?<![\d几多.])(?P<num>\d+(?:[.,]\d+)*|[{_CN_NUM}]+)(?P<scale>[万千百亿])?"
    r"(?P<unit>万亿元|亿元|万元|千元|百元|元钱?|块钱|块(?![儿地去])|万块钱?|千块钱?|百块钱?)"
    rf"|(?P<verb>补贴|补助|奖励|报销|补|发|给|领|奖|赔|贴)了?(?:每人|每月|每个月|每年|一个月|一年)?"
    rf"(?P<bare>\d+(?:[.,]\d+)*|[一二两三四五六七八九十][{_CN_NUM}]*)(?![\d.{_CN_NUM}个人户岁年天次月%倍成所张名项号平方公里多]|,\d)"
)
_OWN_MONEY = re.compile(
    r"(收入|工资|月薪|年薪|挣|赚|花了|花费|欠|存款|借|医药费|房租|交了|缴了|看病|住院|治疗|自费|自己出|低于|不到|超过|高于|"
    r"贷款|押金|罚款)[^,.?!;]{0,6}$"
)
_RUMOUR = re.compile(
    r"听说|听讲|据说|有人说|别人说|网上说|都说|说是|传言|是不是真的|是真的吗|真的假的|对吗|对不对|属实"
)


def _cn_to_number(text: str) -> Decimal | None:
    """Chinese numerals to a number, with the colloquial tail ("两千五" = 2500, "一万五" = 15000)."""
    total, section, digit, last_unit = 0, 0, None, 1
    for c in text:
        if c in "零〇":
            digit, last_unit = None, 10
        elif c in _CN_DIGIT:
            if digit is not None:  # two digits in a row ("一两百") is a range, not a figure
                return None
            digit = _CN_DIGIT[c]
        else:
            unit = _CN_UNIT[c]
            if unit >= 10000:
                total += (section + (digit or 0)) * unit
                section = 0
            else:
                section += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None:
        section += digit * (last_unit // 10 if last_unit >= 100 else 1)
    return Decimal(total + section)


def _figures(compact: str) -> list[tuple[int, Decimal]]:
    """(position, value in yuan) of every money figure in a normalised text."""
    found: list[tuple[int, Decimal]] = []
    for m in _FIGURE.finditer(compact):
        raw = m.group("bare") or m.group("num")
        if raw[0].isdigit():
            try:
                value: Decimal | None = Decimal(raw.replace(",", ""))
            except InvalidOperation:
                continue
        else:
            # a bare Chinese number after a money verb must carry its own scale ("补八百"), and "一块" is
            # usually "together" ("一块去办")
            if m.group("bare") and not re.search("[十百千万亿]", raw):
                continue
            if m.group("unit") == "块" and not re.search("[十百千万亿]", raw):
                continue
            value = _cn_to_number(raw)
        for c in (m.group("scale") or "") + re.sub("[元块钱]", "", m.group("unit") or ""):
            value = value * _CN_UNIT[c] if value is not None else None
        if value is not None and value > 0:
            found.append((m.start(), value))
    return found


def _canonical(value: Decimal) -> str:
    return f"{value.normalize():f}元"


def claimed_money_figures(question: str) -> list[str]:
    """Money figures the resident asserts about a policy, canonical "<yuan>元", in order, no repeats.

    "听说每月补800元是真的吗" → ["800元"]; "我家年收入2万块能吃低保吗" → [] (their own income, not a claim).
    """
    compact = _normalize(question)[1]
    rumour = bool(_RUMOUR.search(compact))
    claims: list[str] = []
    for start, value in _figures(compact):
        before = compact[max(0, start - 8) : start]
        if _OWN_MONEY.search(before):
            continue
        if not (
            rumour or re.search(r"补|发|给|奖|领|报|贴|助|标准|能拿|可以拿|每月|每个月|每年|每人", before)
        ):
            continue
        if (text := _canonical(value)) not in claims:
            claims.append(text)
    return claims


def text_states_figure(text: str, figure: str) -> bool:
    """Whether a text (a cited quote) states the figure, compared by value ("1.2 万元" states "12000元")."""
    wanted = _figures(_normalize(figure)[1])
    return bool(wanted) and any(v == wanted[0][1] for _, v in _figures(_normalize(text)[1]))

"""Demo data for batch renewal: ~240 platforms in realistic categories, and 10,000 numbers due for renewal.

`make run` starts `simulate_platforms --demo`, which points the live platforms'
webhooks at its receivers; the batch sweep then pushes the 10,000 numbers to
every live platform (the pump, at most each platform's `max_in_flight` POSTs at
once), the simulator verifies each Standard Webhooks signature and confirms, and
numbers whose freeze is over are released. Each platform has a support contact,
shown to a subscriber beside that platform's rejection of an unbind task.
"""

import os
import random
import re
from datetime import timedelta

from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from numbers.models import Event, EventKind, HolderPeriod, Operator, PhoneNumber, State
from renewal.models import Platform, PlatformKind, PlatformStatus
from renewal.platforms import services

DEMO_BATCH_NUMBERS = 10_000
# Where `make run` starts simulate_platforms --demo.
SIMULATOR_PORT = int(os.environ.get("RENEWAL_SIMULATOR_PORT", "8090"))
# These read their deliveries through the API instead of receiving webhooks (the simulator polls for them).
PULL_ONLY = {"国家政务服务平台 National Gov Services", "个人所得税 Individual Income Tax", "学信网 CHSI",
             "信用中国 Credit China", "交管12123 Traffic 12123"}

PLATFORMS = {
    "payment": ["支付宝 Alipay", "微信支付 WeChat Pay", "云闪付 UnionPay", "京东支付 JD Pay", "翼支付 Bestpay",
                "和包支付 AndPay", "沃钱包 WoPay", "拉卡拉 Lakala", "度小满 Duxiaoman", "快钱 99bill",
                "美团支付 Meituan Pay", "抖音支付 Douyin Pay", "PayPal China", "财付通 Tenpay", "数字人民币 e-CNY"],
    "banking": ["中国工商银行 ICBC", "中国建设银行 CCB", "中国农业银行 ABC", "中国银行 BOC", "交通银行 BoCom",
                "招商银行 CMB", "中国邮政储蓄银行 PSBC", "兴业银行 CIB", "浦发银行 SPDB", "中信银行 CITIC",
                "民生银行 CMBC", "光大银行 CEB", "平安银行 Ping An Bank", "华夏银行 Hua Xia", "广发银行 CGB",
                "北京银行 Bank of Beijing", "上海银行 Bank of Shanghai", "江苏银行 Bank of Jiangsu",
                "宁波银行 Bank of Ningbo", "微众银行 WeBank", "网商银行 MYbank", "蚂蚁财富 Ant Fortune",
                "天天基金 Tiantian Fund", "同花顺 10jqka", "东方财富 Eastmoney", "中国人寿 China Life",
                "中国平安 Ping An", "太平洋保险 CPIC", "泰康保险 Taikang", "众安保险 ZhongAn"],
    "social": ["微信 WeChat", "QQ", "微博 Weibo", "抖音 Douyin", "快手 Kuaishou", "小红书 Xiaohongshu",
               "知乎 Zhihu", "豆瓣 Douban", "百度贴吧 Tieba", "陌陌 Momo", "探探 Tantan", "Soul", "虎扑 Hupu",
               "脉脉 Maimai", "即刻 Jike", "视频号 Channels", "西瓜视频 Xigua", "LOFTER", "全民K歌 WeSing",
               "YY直播 YY Live"],
    "messaging": ["钉钉 DingTalk", "企业微信 WeCom", "飞书 Feishu", "网易邮箱 NetEase Mail", "QQ邮箱 QQ Mail",
                  "139邮箱 139 Mail", "腾讯会议 Tencent Meeting", "有道云笔记 Youdao Note"],
    "e-commerce": ["淘宝 Taobao", "天猫 Tmall", "京东 JD.com", "拼多多 Pinduoduo", "唯品会 Vipshop",
                   "苏宁易购 Suning", "闲鱼 Xianyu", "得物 Dewu", "当当 Dangdang", "1688", "考拉海购 Kaola",
                   "网易严选 Yanxuan", "小米商城 Mi Store", "华为商城 Vmall", "转转 Zhuanzhuan", "贝壳找房 Beike",
                   "链家 Lianjia", "安居客 Anjuke", "58同城 58.com", "瓜子二手车 Guazi", "汽车之家 Autohome",
                   "懂车帝 Dongchedi", "美团优选 Meituan Select", "多多买菜 Duoduo Maicai", "叮咚买菜 Dingdong",
                   "朴朴超市 Pupu", "盒马 Freshippo", "山姆会员商店 Sam's Club", "Costco China", "屈臣氏 Watsons"],
    "government": ["国家政务服务平台 National Gov Services", "个人所得税 Individual Income Tax",
                   "交管12123 Traffic 12123", "国家医保服务平台 National Healthcare Security",
                   "电子社保卡 e-Social Security Card", "掌上12333", "中国移动政务 CMCC Gov", "国家反诈中心 Anti-Fraud",
                   "住房公积金 Housing Provident Fund", "中国邮政 China Post", "出入境 Exit-Entry",
                   "学信网 CHSI", "信用中国 Credit China", "国家税务总局 STA e-Tax", "12345 热线 Citizen Hotline"]
                  + [f"{p}政务服务 {e} Gov Services" for p, e in [
                      ("北京", "Beijing"), ("上海随申办", "Shanghai"), ("天津", "Tianjin"), ("重庆渝快办", "Chongqing"),
                      ("粤省事", "Guangdong"), ("浙里办", "Zhejiang"), ("江苏", "Jiangsu"), ("山东爱山东", "Shandong"),
                      ("河南豫事办", "Henan"), ("四川天府通办", "Sichuan"), ("湖北鄂汇办", "Hubei"),
                      ("湖南", "Hunan"), ("福建闽政通", "Fujian"), ("安徽皖事通", "Anhui"), ("河北冀时办", "Hebei"),
                      ("陕西", "Shaanxi"), ("辽宁", "Liaoning"), ("江西赣服通", "Jiangxi"), ("云南", "Yunnan"),
                      ("广西", "Guangxi"), ("贵州", "Guizhou"), ("山西三晋通", "Shanxi"), ("吉林", "Jilin"),
                      ("黑龙江", "Heilongjiang"), ("内蒙古蒙速办", "Inner Mongolia"), ("新疆", "Xinjiang"),
                      ("甘肃", "Gansu"), ("海南", "Hainan"), ("宁夏", "Ningxia"), ("青海", "Qinghai"),
                      ("西藏", "Xizang")]],
    "travel": ["铁路12306 China Railway 12306", "携程 Trip.com", "去哪儿 Qunar", "飞猪 Fliggy", "同程旅行 Tongcheng",
               "滴滴出行 DiDi", "高德地图 Amap", "百度地图 Baidu Maps", "哈啰 Hello", "曹操出行 Caocao",
               "T3出行 T3", "航旅纵横 Umetrip", "中国国航 Air China", "东方航空 China Eastern",
               "南方航空 China Southern", "海南航空 Hainan Airlines", "马蜂窝 Mafengwo", "途牛 Tuniu",
               "华住会 Huazhu", "锦江酒店 Jinjiang", "首汽约车 Shouqi", "花小猪 Huaxiaozhu"],
    "food_delivery": ["美团 Meituan", "饿了么 Ele.me", "大众点评 Dianping", "肯德基 KFC China",
                      "麦当劳 McDonald's China", "星巴克 Starbucks China", "瑞幸咖啡 Luckin", "喜茶 Heytea",
                      "奈雪的茶 Nayuki", "蜜雪冰城 Mixue",
                      "达达快送 Dada", "顺丰速运 SF Express", "菜鸟 Cainiao", "京东物流 JD Logistics",
                      "中通快递 ZTO", "圆通速递 YTO"],
    "video": ["爱奇艺 iQIYI", "腾讯视频 Tencent Video", "优酷 Youku", "哔哩哔哩 Bilibili", "芒果TV Mango TV",
              "网易云音乐 NetEase Cloud Music", "QQ音乐 QQ Music", "酷狗音乐 Kugou", "酷我音乐 Kuwo",
              "喜马拉雅 Ximalaya", "咪咕视频 Migu Video", "斗鱼 Douyu", "虎牙 Huya"],
    "gaming": ["王者荣耀 Honor of Kings", "和平精英 Peacekeeper Elite", "原神 Genshin Impact", "网易游戏 NetEase Games",
               "腾讯游戏 Tencent Games", "米哈游通行证 HoYoverse", "完美世界 Perfect World", "TapTap",
               "Steam China"],
    "news": ["今日头条 Toutiao", "腾讯新闻 Tencent News", "网易新闻 NetEase News", "人民日报 People's Daily",
             "新华社 Xinhua", "澎湃新闻 The Paper", "微信读书 WeRead", "起点读书 Qidian", "番茄小说 Fanqie"],
    "health": ["微医 WeDoctor", "好大夫在线 Haodf", "平安好医生 Ping An Good Doctor", "丁香医生 DXY",
               "京东健康 JD Health", "阿里健康 Ali Health", "Keep", "美柚 Meiyou"],
    "education": ["学习强国 Xuexi", "作业帮 Zuoyebang", "猿辅导 Yuanfudao", "网易有道 Youdao", "中国大学MOOC",
                  "学而思 Xueersi", "百词斩 Baicizhan", "智慧中小学 National Smart Education"],
    "utilities": ["国家电网 State Grid", "南方电网 China Southern Power Grid", "中国移动 China Mobile app",
                  "中国联通 China Unicom app", "中国电信 China Telecom app", "中国石化 Sinopec", "中国石油 PetroChina",
                  "燃气缴费 Gas Payments", "百度网盘 Baidu Netdisk", "阿里云盘 Aliyun Drive", "华为账号 HUAWEI ID",
                  "小米账号 Xiaomi Account", "Apple ID China", "OPPO账号 OPPO ID", "vivo账号 vivo ID"],
}
TAG_PROVIDERS = ["腾讯手机管家 Tencent Mobile Manager", "360手机卫士 360 Mobile Security", "百度手机卫士 Baidu Guard",
                 "搜狗号码通 Sogou Haomatong", "触宝电话 Chubao", "电话邦 Dianhuabang", "华为号码标记 HUAWEI Caller ID",
                 "小米号码标记 Xiaomi Caller ID", "OPPO号码标记 OPPO Caller ID", "vivo号码标记 vivo Caller ID",
                 "荣耀号码标记 HONOR Caller ID", "猎豹安全大师 Cheetah Security", "阿里小号 Ali Xiaohao",
                 "号百信息 Haobai", "和多号 Heduohao"]


# People read platforms by their Chinese names: the English that follows a Chinese name goes; a few brands known
# in China by another Chinese name get it; Latin-only brands (QQ, Soul, TapTap, Keep…) stay as they are.
_CHINESE_NAMES = {"中国移动 China Mobile app": "中国移动", "中国联通 China Unicom app": "中国联通",
                  "中国电信 China Telecom app": "中国电信", "PayPal China": "贝宝", "Costco China": "开市客",
                  "Steam China": "蒸汽平台", "Apple ID China": "Apple ID"}
_TRAILING_LATIN = re.compile(r"(?<=[\u4e00-\u9fff0-9TVK])\s+[A-Za-z0-9 .'&-]*[A-Za-z][A-Za-z0-9 .'&-]*$")


def chinese_name(name: str) -> str:
    if name in _CHINESE_NAMES:
        return _CHINESE_NAMES[name]
    return _TRAILING_LATIN.sub("", name) if re.search(r"[\u4e00-\u9fff]", name) else name


PULL_ONLY = {chinese_name(n) for n in PULL_ONLY}
PLATFORMS = {category: [chinese_name(n) for n in names] for category, names in PLATFORMS.items()}
TAG_PROVIDERS = [chinese_name(n) for n in TAG_PROVIDERS]


@transaction.atomic
def load(stdout: OutputWrapper) -> list[tuple[str, str, str]]:
    if Platform.objects.exists():
        # Demo data from before Standard Webhooks holds secrets that cannot sign: give them new ones (the
        # simulator re-reads them).
        stale = [p for p in Platform.objects.all() if not services.platform_secret_signs(p)]
        for platform in stale:
            services.platform_secret_reissue(platform=platform)
        stdout.write("renewal: demo platforms already loaded"
                     + (f" ({len(stale)} signing secrets re-issued)" if stale else ""))
        return _logins(None)
    rng = random.Random(4)
    count = 0
    for category, names in [*PLATFORMS.items(), ("number_tags", TAG_PROVIDERS)]:
        for name in names:
            roll = rng.random()
            status = PlatformStatus.SANDBOX if roll < 0.04 else PlatformStatus.SUSPENDED if roll < 0.06 else \
                PlatformStatus.LIVE
            platform = services.platform_create(
                name=name, category=category, status=status,
                kind=PlatformKind.TAG_PROVIDER if category == "number_tags" else PlatformKind.APPLICATION,
                # Shown to a subscriber beside a rejection; the big ones take more POSTs at once.
                support_phone=f"+86 400 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}",
                support_url=f"https://help.example.com/{count}" if rng.random() < 0.6 else "",
                max_in_flight=16 if count % 10 == 0 else 8)
            if name not in PULL_ONLY:  # until simulate_platforms --demo points it at its receiver
                Platform.objects.filter(pk=platform.pk).update(
                    webhook_url=f"http://127.0.0.1:{SIMULATOR_PORT}/p/{platform.pk}")
            count += 1
    pull_only = Platform.objects.get(name=chinese_name("国家政务服务平台 National Gov Services"))
    _, key = services.api_key_create(platform=pull_only, name="demo", actor="demo")
    operator = Operator.objects.get(code="CMCC")
    _due_numbers(rng, operator)
    stdout.write(f"renewal: {count} platforms ({Platform.objects.live().count()} live), {DEMO_BATCH_NUMBERS} "
                 f"numbers of {operator.code} due for renewal")
    return _logins(key)


def _due_numbers(rng: random.Random, operator: Operator) -> None:
    """Frozen numbers whose freeze ends within the lead time; a fifth already past it (released once confirmed)."""
    now = timezone.now()
    taken = set(PhoneNumber.objects.filter(msisdn__startswith="+86147").values_list("msisdn", flat=True))
    numbers: list[PhoneNumber] = []
    while len(numbers) < DEMO_BATCH_NUMBERS:
        msisdn = f"+86147{rng.randrange(10**8):08d}"
        if msisdn in taken:
            continue
        taken.add(msisdn)
        days = rng.uniform(91, 95) if len(numbers) % 5 == 0 else rng.uniform(70, 88)
        cancelled = now - timedelta(days=days)
        numbers.append(PhoneNumber(msisdn=msisdn, range_holder=operator, serving_operator=operator,
                                   state=State.FROZEN, cancelled_at=cancelled,
                                   frozen_until=cancelled + timedelta(days=90)))
    PhoneNumber.objects.bulk_create(numbers, batch_size=2000)
    periods = HolderPeriod.objects.bulk_create(
        [HolderPeriod(number=n, operator=operator, started_at=None, ended_at=n.cancelled_at) for n in numbers],
        batch_size=2000)
    for n, p in zip(numbers, periods, strict=True):
        n.cycle = p
    PhoneNumber.objects.bulk_update(numbers, ["cycle"], batch_size=2000)
    Event.objects.bulk_create(
        [Event(number=n, kind=EventKind.IMPORT, to_state=n.state, actor="demo", at=now, recorded_at=now,
               detail={"operator": operator.code}) for n in numbers], batch_size=2000)


def _logins(key: str | None) -> list[tuple[str, str, str]]:
    lines = [("Platform API docs (offline)", "/api/v1/docs", "Bearer key below; webhooks in /api/v1/schema"),
             ("Batches and deliveries (admin)", "/admin/renewal/recyclebatch/", "platform-admin"),
             ("Each POST of a delivery (admin)", "/admin/renewal/delivery/", "platform-admin: open a delivery"),
             ("Platforms' in-flight limits (admin)", "/admin/renewal/platform/", "platform-admin")]
    if key:
        lines.append(("Pull-only platform's API key", "/api/v1/deliveries", key))
    return lines

import secrets

from django.db import migrations, models

import renewal.models

# Who handles each kind of harassment; regulators keep the table in admin.
AUTHORITIES = [
    ("marketing", 0, "12321 网络不良与垃圾信息举报受理中心", "12321", "骚扰电话、垃圾短信", "https://www.12321.cn"),
    ("debt_collection", 0, "12378 银行保险消费者投诉热线", "12378", "银行、保险机构及其委托的催收", ""),
    ("debt_collection", 1, "12321 网络不良与垃圾信息举报受理中心", "12321", "骚扰电话、垃圾短信",
     "https://www.12321.cn"),
    ("fraud", 0, "公安机关报警电话", "110", "正在发生的诈骗，已经转账请立即拨打", ""),
    ("fraud", 1, "国家反诈中心预警劝阻专线", "96110", "诈骗电话、短信的咨询与举报", ""),
    ("other", 0, "12321 网络不良与垃圾信息举报受理中心", "12321", "骚扰电话、垃圾短信", "https://www.12321.cn"),
    ("other", 1, "12377 违法和不良信息举报中心", "12377", "网络上的违法和不良信息", "https://www.12377.cn"),
    ("other", 2, "12300 工业和信息化部电信用户申诉受理中心", "12300", "电信服务投诉（先向运营商投诉未解决的）",
     "https://yhssglxt.miit.gov.cn"),
]
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def forward(apps, schema_editor):
    UnbindRequest = apps.get_model("renewal", "UnbindRequest")
    ReportAuthority = apps.get_model("renewal", "ReportAuthority")
    taken = set()
    for request in UnbindRequest.objects.all().only("pk").iterator(chunk_size=2000):
        while (reference := "".join(secrets.choice(ALPHABET) for _ in range(8))) in taken:
            pass
        taken.add(reference)
        UnbindRequest.objects.filter(pk=request.pk).update(reference=reference)
    # Requests finished before the summary SMS existed are not texted now.
    UnbindRequest.objects.filter(finished_at__isnull=False).update(summary_sent_at=models.F("finished_at"))
    ReportAuthority.objects.bulk_create(
        ReportAuthority(category=c, position=p, name=n, phone=t, handles=h, url=u) for c, p, n, t, h, u in AUTHORITIES)


class Migration(migrations.Migration):

    dependencies = [
        ("renewal", "0005_operations_indexes_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="unbindrequest",
            name="reference",
            field=models.CharField(max_length=12, null=True, verbose_name="reference"),
        ),
        migrations.AddField(
            model_name="unbindrequest",
            name="summary_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="summary SMS sent at"),
        ),
        migrations.CreateModel(
            name="ReportAuthority",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("category", models.CharField(choices=[("debt_collection", "debt collection"), ("marketing", "marketing"), ("fraud", "fraud"), ("other", "other")], max_length=20, verbose_name="kind of harassment")),
                ("name", models.CharField(max_length=200, verbose_name="authority")),
                ("phone", models.CharField(blank=True, max_length=40, verbose_name="hotline")),
                ("handles", models.CharField(blank=True, max_length=300, verbose_name="what it handles")),
                ("url", models.URLField(blank=True, verbose_name="web address")),
                ("position", models.PositiveSmallIntegerField(default=0, verbose_name="order")),
            ],
            options={
                "verbose_name": "report authority",
                "verbose_name_plural": "report authorities",
                "ordering": ["category", "position", "id"],
                "constraints": [models.CheckConstraint(condition=models.Q(("category__in", ["debt_collection", "marketing", "fraud", "other"])), name="report_authority_category_valid")],
            },
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="unbindrequest",
            name="reference",
            field=models.CharField(default=renewal.models.request_reference, max_length=12, unique=True,
                                   verbose_name="reference"),
        ),
    ]

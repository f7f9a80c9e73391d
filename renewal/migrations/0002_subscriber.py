# Active renewal: SMS codes, the test SMS outbox, harassment reports and evidence, unbind requests.
import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import renewal.models


class Migration(migrations.Migration):
    dependencies = [("numbers", "0006_oversight"), ("renewal", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name='SmsCode',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('msisdn', models.CharField(max_length=16, unique=True, verbose_name='number (E.164)')),
                ('code_hmac', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField()),
                ('tries', models.PositiveSmallIntegerField(default=0)),
            ],
            options={
                'verbose_name': 'sign-in code',
                'verbose_name_plural': 'sign-in codes',
            },
        ),
        migrations.CreateModel(
            name='SmsMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('to', models.CharField(db_index=True, max_length=16)),
                ('body', models.TextField()),
                ('sent_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'SMS message (test outbox)',
                'verbose_name_plural': 'SMS messages (test outbox)',
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='HarassmentReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reference', models.CharField(default=renewal.models._report_reference, max_length=16, unique=True, verbose_name='reference')),
                ('category', models.CharField(choices=[('debt_collection', 'debt collection'), ('marketing', 'marketing'), ('fraud', 'fraud'), ('other', 'other')], max_length=20, verbose_name='category')),
                ('sender', models.CharField(max_length=100, verbose_name='sender number or name')),
                ('occurred_at', models.DateTimeField(verbose_name='when it happened')),
                ('description', models.TextField(max_length=4000, verbose_name='what happened')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='reported at')),
                ('holder_period', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='harassment_reports', to='numbers.holderperiod')),
                ('number', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='harassment_reports', to='numbers.phonenumber')),
            ],
            options={
                'verbose_name': 'harassment report',
                'verbose_name_plural': 'harassment reports',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='Evidence',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('path', models.CharField(help_text='Relative to PRIVATE_FILES_ROOT.', max_length=200)),
                ('original_name', models.CharField(max_length=200, verbose_name='file name')),
                ('content_type', models.CharField(max_length=50, verbose_name='type')),
                ('size', models.PositiveIntegerField(verbose_name='size (bytes)')),
                ('sha256', models.CharField(max_length=64)),
                ('report', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='evidence', to='renewal.harassmentreport')),
            ],
            options={
                'verbose_name': 'evidence file',
                'verbose_name_plural': 'evidence files',
            },
        ),
        migrations.CreateModel(
            name='UnbindRequest',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('bound_before', models.DateTimeField(verbose_name='bindings made before')),
                ('created_at', models.DateTimeField(verbose_name='requested at')),
                ('finished_at', models.DateTimeField(blank=True, help_text="When every platform's task reached a final state.", null=True, verbose_name='finished at')),
                ('holder_period', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='unbind_requests', to='numbers.holderperiod')),
                ('number', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='unbind_requests', to='numbers.phonenumber')),
            ],
            options={
                'verbose_name': 'unbind request',
                'verbose_name_plural': 'unbind requests',
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='UnbindTask',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(verbose_name='created at')),
                ('deadline_at', models.DateTimeField(verbose_name='answer deadline')),
                ('result', models.CharField(blank=True, choices=[('', 'no result yet'), ('unbound', 'unbound'), ('nothing_bound', 'nothing bound'), ('rejected', 'rejected'), ('no_answer', 'no answer')], default='', max_length=16, verbose_name='result')),
                ('accounts', models.PositiveIntegerField(blank=True, null=True, verbose_name='accounts unbound')),
                ('detail', models.CharField(blank=True, max_length=500, verbose_name='detail')),
                ('reported_at', models.DateTimeField(blank=True, null=True, verbose_name='reported at')),
                ('delivery', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='unbind_tasks', to='renewal.delivery')),
                ('platform', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='unbind_tasks', to='renewal.platform')),
                ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='renewal.unbindrequest')),
            ],
            options={
                'verbose_name': 'unbind task',
                'verbose_name_plural': 'unbind tasks',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AddConstraint(
            model_name='harassmentreport',
            constraint=models.CheckConstraint(condition=models.Q(('category__in', ['debt_collection', 'marketing', 'fraud', 'other'])), name='report_category_valid'),
        ),
        migrations.AddConstraint(
            model_name='unbindrequest',
            constraint=models.UniqueConstraint(condition=models.Q(('finished_at__isnull', True)), fields=('holder_period',), name='one_running_unbind_request_per_period'),
        ),
        migrations.AddIndex(
            model_name='unbindtask',
            index=models.Index(condition=models.Q(('delivery__isnull', True)), fields=['platform', 'created_at'], name='unbind_task_unassigned'),
        ),
        migrations.AddIndex(
            model_name='unbindtask',
            index=models.Index(condition=models.Q(('result', '')), fields=['deadline_at'], name='unbind_task_open_deadline'),
        ),
        migrations.AddConstraint(
            model_name='unbindtask',
            constraint=models.UniqueConstraint(fields=('request', 'platform'), name='one_unbind_task_per_platform'),
        ),
        migrations.AddConstraint(
            model_name='unbindtask',
            constraint=models.CheckConstraint(condition=models.Q(('result__in', ['', 'unbound', 'nothing_bound', 'rejected', 'no_answer'])), name='unbind_result_valid'),
        ),
        migrations.AddIndex(
            model_name='unbindtask',
            index=models.Index(condition=models.Q(('result__in', ['', 'no_answer'])), fields=['delivery'], name='unbind_task_open_delivery'),
        ),
        migrations.AddIndex(
            model_name='unbindtask',
            index=models.Index(condition=models.Q(('result', '')), fields=['request'], name='unbind_task_open_request'),
        ),
    ]

# Feed uploads, and the operator administrator's and regulator's rights on them.

import django.db.models.deletion
import django.utils.timezone
import numbers.models
from django.conf import settings
from django.db import migrations, models



class Migration(migrations.Migration):

    dependencies = [
        ('numbers', '0003_event_append_only'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='FeedUpload',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('cancellations', 'cancellations and ports'), ('inventory', 'number inventory')], default='cancellations', max_length=16, verbose_name='feed')),
                ('uploaded_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='uploaded at')),
                ('original_name', models.CharField(blank=True, max_length=200, verbose_name='file name')),
                ('file', models.FileField(max_length=200, storage=numbers.models.private_storage, upload_to=numbers.models._feed_file_name, verbose_name='file')),
                ('dry_run', models.BooleanField(default=False, help_text='Validate and report; change nothing.', verbose_name='dry run')),
                ('status', models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('done', 'done'), ('failed', 'failed')], default='queued', max_length=10, verbose_name='status')),
                ('lines', models.PositiveIntegerField(default=0, verbose_name='lines')),
                ('processed', models.PositiveIntegerField(default=0, verbose_name='lines processed')),
                ('applied', models.PositiveIntegerField(default=0, verbose_name='applied')),
                ('already_applied', models.PositiveIntegerField(default=0, verbose_name='already applied')),
                ('rejected', models.PositiveIntegerField(default=0, verbose_name='rejected')),
                ('summary', models.JSONField(blank=True, default=dict, verbose_name='summary')),
                ('report', models.FileField(blank=True, max_length=200, storage=numbers.models.private_storage, upload_to='', verbose_name='report')),
                ('error', models.TextField(blank=True, verbose_name='error')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started at')),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True, verbose_name='last progress at')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished at')),
                ('operator', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='feed_uploads', to='numbers.operator', verbose_name='operator')),
                ('uploaded_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='uploaded by')),
            ],
            options={
                'verbose_name': 'feed upload',
                'verbose_name_plural': 'feed uploads',
                'ordering': ['-uploaded_at', '-id'],
                'indexes': [models.Index(fields=['operator', 'uploaded_at'], name='feedupload_operator_at')],
            },
        ),
    ]

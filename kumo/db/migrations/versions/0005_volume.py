"""volume: types, volumes, their metadata and attachments, snapshots

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('volume_types',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('extra_specs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('volumes',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=False),
    sa.Column('volume_type_id', sa.String(length=64), nullable=False),
    sa.Column('bootable', sa.Boolean(), nullable=False),
    sa.Column('read_only', sa.Boolean(), nullable=True),
    sa.Column('multiattach', sa.Boolean(), nullable=False),
    sa.Column('snapshot_id', sa.String(length=64), nullable=True),
    sa.Column('source_volid', sa.String(length=64), nullable=True),
    sa.Column('image_id', sa.String(length=64), nullable=True),
    sa.Column('image_metadata', sa.JSON(), nullable=True),
    sa.Column('upload_image_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_volumes_created_at', 'volumes', ['created_at'])
    op.create_index('ix_volumes_project_id', 'volumes', ['project_id'])
    op.create_index('ix_volumes_status', 'volumes', ['status'])
    op.create_table('volume_attachments',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('volume_id', sa.String(length=64), nullable=False),
    sa.Column('server_id', sa.String(length=64), nullable=True),
    sa.Column('host_name', sa.String(length=255), nullable=True),
    sa.Column('device', sa.String(length=255), nullable=True),
    sa.Column('attached_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_volume_attachments_volume_id', 'volume_attachments', ['volume_id'])
    op.create_table('volume_metadata',
    sa.Column('volume_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volume_id', 'key')
    )
    op.create_table('volume_snapshots',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('volume_id', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_volume_snapshots_created_at', 'volume_snapshots', ['created_at'])
    op.create_index('ix_volume_snapshots_project_id', 'volume_snapshots', ['project_id'])
    op.create_index('ix_volume_snapshots_status', 'volume_snapshots', ['status'])
    op.create_index('ix_volume_snapshots_volume_id', 'volume_snapshots', ['volume_id'])


def downgrade() -> None:
    op.drop_table('volume_snapshots')
    op.drop_table('volume_metadata')
    op.drop_table('volume_attachments')
    op.drop_table('volumes')
    op.drop_table('volume_types')

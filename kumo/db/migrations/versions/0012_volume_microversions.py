"""volume attachments: status, mode and connector (Cinder's attachments API, 3.27+); projects' default
volume types (3.62)

Revision ID: 0012
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('volume_attachments') as batch:
        batch.add_column(sa.Column('attach_status', sa.String(length=32), server_default='attached',
                                   nullable=False))
        batch.add_column(sa.Column('attach_mode', sa.String(length=8), server_default='rw', nullable=False))
        batch.add_column(sa.Column('connector', sa.JSON(), nullable=True))
    op.create_table('volume_default_types',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('volume_type_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id']),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_index('ix_volume_default_types_volume_type_id', 'volume_default_types', ['volume_type_id'])


def downgrade() -> None:
    op.drop_index('ix_volume_default_types_volume_type_id', table_name='volume_default_types')
    op.drop_table('volume_default_types')
    with op.batch_alter_table('volume_attachments') as batch:
        batch.drop_column('connector')
        batch.drop_column('attach_mode')
        batch.drop_column('attach_status')

"""identity

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_domains',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('identity_regions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('parent_region_id', sa.String(length=64), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['parent_region_id'], ['identity_regions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('identity_revocations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('audit_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('app_cred_id', sa.String(length=64), nullable=True),
    sa.Column('issued_before', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revocations_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revocations_issued_before'), ['issued_before'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revocations_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revocations_user_id'), ['user_id'], unique=False)

    op.create_table('identity_roles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain_id', 'name')
    )
    op.create_table('identity_services',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_services_type'), ['type'], unique=False)

    op.create_table('identity_assignments',
    sa.Column('actor_type', sa.String(length=8), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=8), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.Column('inherited', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['identity_roles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_type', 'actor_id', 'target_type', 'target_id', 'role_id', 'inherited')
    )
    with op.batch_alter_table('identity_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_assignments_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_assignments_target_id'), ['target_id'], unique=False)

    op.create_table('identity_endpoints',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('interface', sa.String(length=8), nullable=False),
    sa.Column('region_id', sa.String(length=64), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['identity_regions.id'], ),
    sa.ForeignKeyConstraint(['service_id'], ['identity_services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_endpoints_service_id'), ['service_id'], unique=False)

    op.create_table('identity_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain_id', 'name')
    )
    with op.batch_alter_table('identity_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_groups_domain_id'), ['domain_id'], unique=False)

    op.create_table('identity_implied_roles',
    sa.Column('prior_role_id', sa.String(length=64), nullable=False),
    sa.Column('implied_role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['implied_role_id'], ['identity_roles.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prior_role_id'], ['identity_roles.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prior_role_id', 'implied_role_id')
    )
    op.create_table('identity_projects',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['identity_projects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain_id', 'name')
    )
    with op.batch_alter_table('identity_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_projects_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_projects_parent_id'), ['parent_id'], unique=False)

    op.create_table('identity_users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('default_project_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_active_at', sa.DateTime(), nullable=True),
    sa.Column('failed_auth_count', sa.Integer(), nullable=False),
    sa.Column('failed_auth_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain_id', 'name')
    )
    with op.batch_alter_table('identity_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_users_domain_id'), ['domain_id'], unique=False)

    op.create_table('identity_access_rules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_access_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_access_rules_user_id'), ['user_id'], unique=False)

    op.create_table('identity_app_credentials',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('system', sa.String(length=16), nullable=True),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('unrestricted', sa.Boolean(), nullable=False),
    sa.Column('role_ids', sa.JSON(), nullable=False),
    sa.Column('access_rule_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'name')
    )
    with op.batch_alter_table('identity_app_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_app_credentials_user_id'), ['user_id'], unique=False)

    op.create_table('identity_group_members',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['identity_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'group_id')
    )
    with op.batch_alter_table('identity_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_group_members_group_id'), ['group_id'], unique=False)

    op.create_table('identity_passwords',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('self_service', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('identity_passwords', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_passwords_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('identity_passwords', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_passwords_user_id'))

    op.drop_table('identity_passwords')
    with op.batch_alter_table('identity_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_group_members_group_id'))

    op.drop_table('identity_group_members')
    with op.batch_alter_table('identity_app_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_app_credentials_user_id'))

    op.drop_table('identity_app_credentials')
    with op.batch_alter_table('identity_access_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_access_rules_user_id'))

    op.drop_table('identity_access_rules')
    with op.batch_alter_table('identity_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_users_domain_id'))

    op.drop_table('identity_users')
    with op.batch_alter_table('identity_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_projects_parent_id'))
        batch_op.drop_index(batch_op.f('ix_identity_projects_domain_id'))

    op.drop_table('identity_projects')
    op.drop_table('identity_implied_roles')
    with op.batch_alter_table('identity_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_groups_domain_id'))

    op.drop_table('identity_groups')
    with op.batch_alter_table('identity_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_endpoints_service_id'))

    op.drop_table('identity_endpoints')
    with op.batch_alter_table('identity_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_assignments_target_id'))
        batch_op.drop_index(batch_op.f('ix_identity_assignments_actor_id'))

    op.drop_table('identity_assignments')
    with op.batch_alter_table('identity_services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_services_type'))

    op.drop_table('identity_services')
    op.drop_table('identity_roles')
    with op.batch_alter_table('identity_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_revocations_user_id'))
        batch_op.drop_index(batch_op.f('ix_identity_revocations_project_id'))
        batch_op.drop_index(batch_op.f('ix_identity_revocations_issued_before'))
        batch_op.drop_index(batch_op.f('ix_identity_revocations_audit_id'))

    op.drop_table('identity_revocations')
    op.drop_table('identity_regions')
    op.drop_table('identity_domains')

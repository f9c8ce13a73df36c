-- 县级双重预防系统（演示库） (sqlite)
-- Generated from sql/county/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.

-- qy_jbxx: 企业基本信息
CREATE TABLE qy_jbxx (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	qy_mc VARCHAR(200) NOT NULL,
	tyshxydm VARCHAR(18),
	xzqh_dm VARCHAR(12),
	qy_dz VARCHAR(300),
	fddbr VARCHAR(50),
	lxdh VARCHAR(20),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_qy_jbxx_update_time ON qy_jbxx (update_time);
CREATE UNIQUE INDEX ux_qy_jbxx_qy_bm ON qy_jbxx (qy_bm);

-- wxy_xx: 危险源信息（含重大危险源包保责任人）
CREATE TABLE wxy_xx (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	wxy_bm VARCHAR(36) NOT NULL,
	wxy_mc VARCHAR(200) NOT NULL,
	sfzd VARCHAR(2),
	wxy_jb VARCHAR(10),
	r_z NUMERIC(10, 2),
	tyrq DATE,
	zyfzr VARCHAR(50),
	zyfzr_dh VARCHAR(20),
	zyfzr_zw VARCHAR(50),
	jsfzr VARCHAR(50),
	jsfzr_dh VARCHAR(20),
	jsfzr_zw VARCHAR(50),
	czfzr VARCHAR(50),
	czfzr_dh VARCHAR(20),
	czfzr_zw VARCHAR(50),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_wxy_xx_qy_bm ON wxy_xx (qy_bm);
CREATE INDEX ix_wxy_xx_update_time ON wxy_xx (update_time);

-- fxgk_qd: 安全风险分级管控清单
CREATE TABLE fxgk_qd (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	xh INTEGER,
	fxdx VARCHAR(200),
	zrbm VARCHAR(200),
	zrr VARCHAR(50),
	fxdy VARCHAR(200),
	wxy VARCHAR(200),
	aqfx VARCHAR(500),
	fxdj VARCHAR(20),
	fxsj VARCHAR(500),
	gkcs_fl VARCHAR(50),
	gkcs VARCHAR(1000),
	gkcj VARCHAR(20),
	gw_zrr VARCHAR(50),
	pcpc VARCHAR(20),
	gkfs VARCHAR(20),
	pcnr VARCHAR(1000),
	rwlx VARCHAR(20),
	bbrw_xh VARCHAR(2),
	gzrlx VARCHAR(20),
	rw_kssj DATETIME,
	gz_kssj VARCHAR(8),
	gz_jssj VARCHAR(8),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fxgk_qd_qy_bm ON fxgk_qd (qy_bm);
CREATE INDEX ix_fxgk_qd_update_time ON fxgk_qd (update_time);

-- yhpc_jl: 隐患排查记录
CREATE TABLE yhpc_jl (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	qd_id INTEGER NOT NULL,
	pcsj DATETIME NOT NULL,
	pcjg VARCHAR(20),
	pcr VARCHAR(50),
	pcr_sj VARCHAR(20),
	sb_bm VARCHAR(50),
	sfbb VARCHAR(2),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_yhpc_jl_qd_id ON yhpc_jl (qd_id);
CREATE INDEX ix_yhpc_jl_qy_bm ON yhpc_jl (qy_bm);
CREATE INDEX ix_yhpc_jl_update_time ON yhpc_jl (update_time);

-- yh_tz: 隐患治理台账
CREATE TABLE yh_tz (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	wxy_id INTEGER,
	jl_id INTEGER,
	qd_id INTEGER,
	yh_mc VARCHAR(300),
	yh_dj VARCHAR(20),
	djsj DATETIME,
	djr VARCHAR(50),
	yh_ly VARCHAR(50),
	zf_bh VARCHAR(100),
	zl_lx VARCHAR(20),
	yh_lx VARCHAR(20),
	yh_lb VARCHAR(20),
	yh_ms TEXT,
	yy_fx TEXT,
	kz_cs VARCHAR(1000),
	zg_zj NUMERIC(12, 2),
	zg_zrr VARCHAR(50),
	zl_qx DATE,
	ys_r VARCHAR(50),
	ys_sj DATETIME,
	ys_qk VARCHAR(1000),
	yh_zt VARCHAR(20),
	gl_fl VARCHAR(50),
	fs_hj VARCHAR(20),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_yh_tz_qy_bm ON yh_tz (qy_bm);
CREATE INDEX ix_yh_tz_update_time ON yh_tz (update_time);

-- zz_tyjx: 装置停用检修记录
CREATE TABLE zz_tyjx (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	fxdx VARCHAR(200),
	fxdy VARCHAR(200),
	ty_kssj DATETIME,
	ty_jssj DATETIME,
	ty_yy VARCHAR(500),
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_zz_tyjx_qy_bm ON zz_tyjx (qy_bm);
CREATE INDEX ix_zz_tyjx_update_time ON zz_tyjx (update_time);

-- fx_fq: 风险分区
CREATE TABLE fx_fq (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	fq_bm VARCHAR(50),
	fq_mc VARCHAR(200),
	fxdj VARCHAR(20),
	zb_fw VARCHAR(1000),
	szbm VARCHAR(200),
	pjr VARCHAR(50),
	fprq DATE,
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fx_fq_qy_bm ON fx_fq (qy_bm);
CREATE INDEX ix_fx_fq_update_time ON fx_fq (update_time);

-- fx_fbt: 安全风险四色分布图
CREATE TABLE fx_fbt (
	id INTEGER NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	tm VARCHAR(200),
	wj_mc VARCHAR(200),
	tp BLOB,
	cjr VARCHAR(50),
	cjsj DATETIME,
	gxr VARCHAR(50),
	update_time DATETIME,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fx_fbt_qy_bm ON fx_fbt (qy_bm);
CREATE INDEX ix_fx_fbt_update_time ON fx_fbt (update_time);

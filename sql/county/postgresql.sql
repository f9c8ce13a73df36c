-- 县级双重预防系统（演示库） (postgresql)
-- Generated from sql/county/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.

-- qy_jbxx: 企业基本信息
CREATE TABLE qy_jbxx (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	qy_mc VARCHAR(200) NOT NULL,
	tyshxydm VARCHAR(18),
	xzqh_dm VARCHAR(12),
	qy_dz VARCHAR(300),
	fddbr VARCHAR(50),
	lxdh VARCHAR(20),
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_qy_jbxx_update_time ON qy_jbxx (update_time);
CREATE UNIQUE INDEX ux_qy_jbxx_qy_bm ON qy_jbxx (qy_bm);
COMMENT ON TABLE qy_jbxx IS '企业基本信息';
COMMENT ON COLUMN qy_jbxx.id IS '主键';
COMMENT ON COLUMN qy_jbxx.qy_bm IS '企业编码：9-digit code from 危险化学品登记信息管理系统';
COMMENT ON COLUMN qy_jbxx.qy_mc IS '企业名称';
COMMENT ON COLUMN qy_jbxx.tyshxydm IS '统一社会信用代码';
COMMENT ON COLUMN qy_jbxx.xzqh_dm IS '行政区划代码';
COMMENT ON COLUMN qy_jbxx.qy_dz IS '企业地址';
COMMENT ON COLUMN qy_jbxx.fddbr IS '法定代表人';
COMMENT ON COLUMN qy_jbxx.lxdh IS '联系电话';
COMMENT ON COLUMN qy_jbxx.cjr IS '创建人';
COMMENT ON COLUMN qy_jbxx.cjsj IS '创建时间';
COMMENT ON COLUMN qy_jbxx.gxr IS '更新人';
COMMENT ON COLUMN qy_jbxx.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN qy_jbxx.del_flag IS '删除标志：0 存在, 2 删除';

-- wxy_xx: 危险源信息（含重大危险源包保责任人）
CREATE TABLE wxy_xx (
	id SERIAL NOT NULL,
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
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_wxy_xx_qy_bm ON wxy_xx (qy_bm);
CREATE INDEX ix_wxy_xx_update_time ON wxy_xx (update_time);
COMMENT ON TABLE wxy_xx IS '危险源信息（含重大危险源包保责任人）：Analysis objects of the risk list; major hazards carry the three 包保 persons.';
COMMENT ON COLUMN wxy_xx.id IS '主键';
COMMENT ON COLUMN wxy_xx.qy_bm IS '企业编码';
COMMENT ON COLUMN wxy_xx.wxy_bm IS '危险源编码';
COMMENT ON COLUMN wxy_xx.wxy_mc IS '危险源名称：equals 安全风险分析对象 in fxgk_qd';
COMMENT ON COLUMN wxy_xx.sfzd IS '是否重大危险源：是/否';
COMMENT ON COLUMN wxy_xx.wxy_jb IS '重大危险源级别：一级..四级';
COMMENT ON COLUMN wxy_xx.r_z IS 'R值';
COMMENT ON COLUMN wxy_xx.tyrq IS '投用日期';
COMMENT ON COLUMN wxy_xx.zyfzr IS '主要负责人';
COMMENT ON COLUMN wxy_xx.zyfzr_dh IS '主要负责人电话';
COMMENT ON COLUMN wxy_xx.zyfzr_zw IS '主要负责人职务';
COMMENT ON COLUMN wxy_xx.jsfzr IS '技术负责人';
COMMENT ON COLUMN wxy_xx.jsfzr_dh IS '技术负责人电话';
COMMENT ON COLUMN wxy_xx.jsfzr_zw IS '技术负责人职务';
COMMENT ON COLUMN wxy_xx.czfzr IS '操作负责人';
COMMENT ON COLUMN wxy_xx.czfzr_dh IS '操作负责人电话';
COMMENT ON COLUMN wxy_xx.czfzr_zw IS '操作负责人职务';
COMMENT ON COLUMN wxy_xx.cjr IS '创建人';
COMMENT ON COLUMN wxy_xx.cjsj IS '创建时间';
COMMENT ON COLUMN wxy_xx.gxr IS '更新人';
COMMENT ON COLUMN wxy_xx.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN wxy_xx.del_flag IS '删除标志：0 存在, 2 删除';

-- fxgk_qd: 安全风险分级管控清单
CREATE TABLE fxgk_qd (
	id SERIAL NOT NULL,
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
	rw_kssj TIMESTAMP WITHOUT TIME ZONE,
	gz_kssj VARCHAR(8),
	gz_jssj VARCHAR(8),
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fxgk_qd_qy_bm ON fxgk_qd (qy_bm);
CREATE INDEX ix_fxgk_qd_update_time ON fxgk_qd (update_time);
COMMENT ON TABLE fxgk_qd IS '安全风险分级管控清单：One row per control measure, as in attachment 2 (序号 … 排查频次), with every cell filled in (the spreadsheet''s merged cells are repeated on each row), followed by the task settings the county system keeps next to the list.';
COMMENT ON COLUMN fxgk_qd.id IS '主键';
COMMENT ON COLUMN fxgk_qd.qy_bm IS '企业编码';
COMMENT ON COLUMN fxgk_qd.xh IS '序号';
COMMENT ON COLUMN fxgk_qd.fxdx IS '安全风险分析对象';
COMMENT ON COLUMN fxgk_qd.zrbm IS '责任部门';
COMMENT ON COLUMN fxgk_qd.zrr IS '责任人';
COMMENT ON COLUMN fxgk_qd.fxdy IS '安全风险分析单元';
COMMENT ON COLUMN fxgk_qd.wxy IS '危险源';
COMMENT ON COLUMN fxgk_qd.aqfx IS '安全风险';
COMMENT ON COLUMN fxgk_qd.fxdj IS '安全风险等级：重大风险/较大风险/一般风险/低风险';
COMMENT ON COLUMN fxgk_qd.fxsj IS '安全风险事件：最严重后果';
COMMENT ON COLUMN fxgk_qd.gkcs_fl IS '风险管控措施分类：分类1/分类2, e.g. 工程技术/安全附件';
COMMENT ON COLUMN fxgk_qd.gkcs IS '风险管控措施';
COMMENT ON COLUMN fxgk_qd.gkcj IS '风险管控层级';
COMMENT ON COLUMN fxgk_qd.gw_zrr IS '岗位（责任人）';
COMMENT ON COLUMN fxgk_qd.pcpc IS '排查频次：e.g. 1天, 8小时, 1月';
COMMENT ON COLUMN fxgk_qd.gkfs IS '管控方式：隐患排查/自动化监控';
COMMENT ON COLUMN fxgk_qd.pcnr IS '排查内容';
COMMENT ON COLUMN fxgk_qd.rwlx IS '任务类型：日常任务/主要负责人任务/技术负责人任务/操作负责人任务';
COMMENT ON COLUMN fxgk_qd.bbrw_xh IS '包保任务序号';
COMMENT ON COLUMN fxgk_qd.gzrlx IS '工作日类型：每天/法定工作日/非法定工作日';
COMMENT ON COLUMN fxgk_qd.rw_kssj IS '任务开始时间';
COMMENT ON COLUMN fxgk_qd.gz_kssj IS '工作开始时间：HH:MM:SS';
COMMENT ON COLUMN fxgk_qd.gz_jssj IS '工作结束时间：HH:MM:SS';
COMMENT ON COLUMN fxgk_qd.cjr IS '创建人';
COMMENT ON COLUMN fxgk_qd.cjsj IS '创建时间';
COMMENT ON COLUMN fxgk_qd.gxr IS '更新人';
COMMENT ON COLUMN fxgk_qd.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN fxgk_qd.del_flag IS '删除标志：0 存在, 2 删除';

-- yhpc_jl: 隐患排查记录
CREATE TABLE yhpc_jl (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	qd_id INTEGER NOT NULL,
	pcsj TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	pcjg VARCHAR(20),
	pcr VARCHAR(50),
	pcr_sj VARCHAR(20),
	sb_bm VARCHAR(50),
	sfbb VARCHAR(2),
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_yhpc_jl_qd_id ON yhpc_jl (qd_id);
CREATE INDEX ix_yhpc_jl_qy_bm ON yhpc_jl (qy_bm);
CREATE INDEX ix_yhpc_jl_update_time ON yhpc_jl (update_time);
COMMENT ON TABLE yhpc_jl IS '隐患排查记录';
COMMENT ON COLUMN yhpc_jl.id IS '主键';
COMMENT ON COLUMN yhpc_jl.qy_bm IS '企业编码';
COMMENT ON COLUMN yhpc_jl.qd_id IS '清单ID：fxgk_qd.id of the measure checked';
COMMENT ON COLUMN yhpc_jl.pcsj IS '排查时间';
COMMENT ON COLUMN yhpc_jl.pcjg IS '排查结果：正常/存在隐患/未排查/其他';
COMMENT ON COLUMN yhpc_jl.pcr IS '排查人';
COMMENT ON COLUMN yhpc_jl.pcr_sj IS '排查人手机号';
COMMENT ON COLUMN yhpc_jl.sb_bm IS '设备IMEI';
COMMENT ON COLUMN yhpc_jl.sfbb IS '是否包保任务：是/否';
COMMENT ON COLUMN yhpc_jl.cjr IS '创建人';
COMMENT ON COLUMN yhpc_jl.cjsj IS '创建时间';
COMMENT ON COLUMN yhpc_jl.gxr IS '更新人';
COMMENT ON COLUMN yhpc_jl.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN yhpc_jl.del_flag IS '删除标志：0 存在, 2 删除';

-- yh_tz: 隐患治理台账
CREATE TABLE yh_tz (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	wxy_id INTEGER,
	jl_id INTEGER,
	qd_id INTEGER,
	yh_mc VARCHAR(300),
	yh_dj VARCHAR(20),
	djsj TIMESTAMP WITHOUT TIME ZONE,
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
	ys_sj TIMESTAMP WITHOUT TIME ZONE,
	ys_qk VARCHAR(1000),
	yh_zt VARCHAR(20),
	gl_fl VARCHAR(50),
	fs_hj VARCHAR(20),
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_yh_tz_qy_bm ON yh_tz (qy_bm);
CREATE INDEX ix_yh_tz_update_time ON yh_tz (update_time);
COMMENT ON TABLE yh_tz IS '隐患治理台账';
COMMENT ON COLUMN yh_tz.id IS '主键';
COMMENT ON COLUMN yh_tz.qy_bm IS '企业编码';
COMMENT ON COLUMN yh_tz.wxy_id IS '危险源ID：wxy_xx.id';
COMMENT ON COLUMN yh_tz.jl_id IS '排查记录ID：yhpc_jl.id; empty for dangers not found by a check task';
COMMENT ON COLUMN yh_tz.qd_id IS '清单ID：fxgk_qd.id of the measure that failed';
COMMENT ON COLUMN yh_tz.yh_mc IS '隐患名称';
COMMENT ON COLUMN yh_tz.yh_dj IS '隐患等级：一般隐患/重大隐患';
COMMENT ON COLUMN yh_tz.djsj IS '登记时间';
COMMENT ON COLUMN yh_tz.djr IS '登记人';
COMMENT ON COLUMN yh_tz.yh_ly IS '隐患来源';
COMMENT ON COLUMN yh_tz.zf_bh IS '执法编号';
COMMENT ON COLUMN yh_tz.zl_lx IS '治理类型：即查即改/限期整改';
COMMENT ON COLUMN yh_tz.yh_lx IS '隐患类型：安全/工艺/电气/仪表/消防/总图/设备/其他';
COMMENT ON COLUMN yh_tz.yh_lb IS '隐患类别';
COMMENT ON COLUMN yh_tz.yh_ms IS '隐患描述';
COMMENT ON COLUMN yh_tz.yy_fx IS '原因分析';
COMMENT ON COLUMN yh_tz.kz_cs IS '控制措施';
COMMENT ON COLUMN yh_tz.zg_zj IS '整改资金：万元';
COMMENT ON COLUMN yh_tz.zg_zrr IS '整改责任人';
COMMENT ON COLUMN yh_tz.zl_qx IS '治理期限';
COMMENT ON COLUMN yh_tz.ys_r IS '验收人';
COMMENT ON COLUMN yh_tz.ys_sj IS '验收时间';
COMMENT ON COLUMN yh_tz.ys_qk IS '验收情况';
COMMENT ON COLUMN yh_tz.yh_zt IS '隐患状态：整改中/待验收/已验收';
COMMENT ON COLUMN yh_tz.gl_fl IS '管理分类';
COMMENT ON COLUMN yh_tz.fs_hj IS '发生环节';
COMMENT ON COLUMN yh_tz.cjr IS '创建人';
COMMENT ON COLUMN yh_tz.cjsj IS '创建时间';
COMMENT ON COLUMN yh_tz.gxr IS '更新人';
COMMENT ON COLUMN yh_tz.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN yh_tz.del_flag IS '删除标志：0 存在, 2 删除';

-- zz_tyjx: 装置停用检修记录
CREATE TABLE zz_tyjx (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	fxdx VARCHAR(200),
	fxdy VARCHAR(200),
	ty_kssj TIMESTAMP WITHOUT TIME ZONE,
	ty_jssj TIMESTAMP WITHOUT TIME ZONE,
	ty_yy VARCHAR(500),
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_zz_tyjx_qy_bm ON zz_tyjx (qy_bm);
CREATE INDEX ix_zz_tyjx_update_time ON zz_tyjx (update_time);
COMMENT ON TABLE zz_tyjx IS '装置停用检修记录';
COMMENT ON COLUMN zz_tyjx.id IS '主键';
COMMENT ON COLUMN zz_tyjx.qy_bm IS '企业编码';
COMMENT ON COLUMN zz_tyjx.fxdx IS '安全风险分析对象';
COMMENT ON COLUMN zz_tyjx.fxdy IS '安全风险分析单元';
COMMENT ON COLUMN zz_tyjx.ty_kssj IS '停用开始时间';
COMMENT ON COLUMN zz_tyjx.ty_jssj IS '停用结束时间';
COMMENT ON COLUMN zz_tyjx.ty_yy IS '停用原因';
COMMENT ON COLUMN zz_tyjx.cjr IS '创建人';
COMMENT ON COLUMN zz_tyjx.cjsj IS '创建时间';
COMMENT ON COLUMN zz_tyjx.gxr IS '更新人';
COMMENT ON COLUMN zz_tyjx.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN zz_tyjx.del_flag IS '删除标志：0 存在, 2 删除';

-- fx_fq: 风险分区
CREATE TABLE fx_fq (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	fq_bm VARCHAR(50),
	fq_mc VARCHAR(200),
	fxdj VARCHAR(20),
	zb_fw VARCHAR(1000),
	szbm VARCHAR(200),
	pjr VARCHAR(50),
	fprq DATE,
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fx_fq_qy_bm ON fx_fq (qy_bm);
CREATE INDEX ix_fx_fq_update_time ON fx_fq (update_time);
COMMENT ON TABLE fx_fq IS '风险分区';
COMMENT ON COLUMN fx_fq.id IS '主键';
COMMENT ON COLUMN fx_fq.qy_bm IS '企业编码';
COMMENT ON COLUMN fx_fq.fq_bm IS '分区编号';
COMMENT ON COLUMN fx_fq.fq_mc IS '分区名称';
COMMENT ON COLUMN fx_fq.fxdj IS '风险等级：一级..四级 (一级 = 重大风险)';
COMMENT ON COLUMN fx_fq.zb_fw IS '坐标范围';
COMMENT ON COLUMN fx_fq.szbm IS '所在部门';
COMMENT ON COLUMN fx_fq.pjr IS '评价人';
COMMENT ON COLUMN fx_fq.fprq IS '复评日期';
COMMENT ON COLUMN fx_fq.cjr IS '创建人';
COMMENT ON COLUMN fx_fq.cjsj IS '创建时间';
COMMENT ON COLUMN fx_fq.gxr IS '更新人';
COMMENT ON COLUMN fx_fq.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN fx_fq.del_flag IS '删除标志：0 存在, 2 删除';

-- fx_fbt: 安全风险四色分布图
CREATE TABLE fx_fbt (
	id SERIAL NOT NULL,
	qy_bm VARCHAR(9) NOT NULL,
	tm VARCHAR(200),
	wj_mc VARCHAR(200),
	tp BYTEA,
	cjr VARCHAR(50),
	cjsj TIMESTAMP WITHOUT TIME ZONE,
	gxr VARCHAR(50),
	update_time TIMESTAMP WITHOUT TIME ZONE,
	del_flag VARCHAR(1) DEFAULT '0' NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX ix_fx_fbt_qy_bm ON fx_fbt (qy_bm);
CREATE INDEX ix_fx_fbt_update_time ON fx_fbt (update_time);
COMMENT ON TABLE fx_fbt IS '安全风险四色分布图';
COMMENT ON COLUMN fx_fbt.id IS '主键';
COMMENT ON COLUMN fx_fbt.qy_bm IS '企业编码';
COMMENT ON COLUMN fx_fbt.tm IS '图名';
COMMENT ON COLUMN fx_fbt.wj_mc IS '文件名';
COMMENT ON COLUMN fx_fbt.tp IS '图片';
COMMENT ON COLUMN fx_fbt.cjr IS '创建人';
COMMENT ON COLUMN fx_fbt.cjsj IS '创建时间';
COMMENT ON COLUMN fx_fbt.gxr IS '更新人';
COMMENT ON COLUMN fx_fbt.update_time IS '更新时间：set on every insert and update';
COMMENT ON COLUMN fx_fbt.del_flag IS '删除标志：0 存在, 2 删除';

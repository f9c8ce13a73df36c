-- 县级双重预防系统（演示库） (mysql)
-- Generated from sql/county/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.
-- Tables use InnoDB and utf8mb4; VARCHAR(n) counts characters.

-- qy_jbxx: 企业基本信息
CREATE TABLE qy_jbxx (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码：9-digit code from 危险化学品登记信息管理系统',
	qy_mc VARCHAR(200) NOT NULL COMMENT '企业名称',
	tyshxydm VARCHAR(18) COMMENT '统一社会信用代码',
	xzqh_dm VARCHAR(12) COMMENT '行政区划代码',
	qy_dz VARCHAR(300) COMMENT '企业地址',
	fddbr VARCHAR(50) COMMENT '法定代表人',
	lxdh VARCHAR(20) COMMENT '联系电话',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='企业基本信息';
CREATE INDEX ix_qy_jbxx_update_time ON qy_jbxx (update_time);
CREATE UNIQUE INDEX ux_qy_jbxx_qy_bm ON qy_jbxx (qy_bm);

-- wxy_xx: 危险源信息（含重大危险源包保责任人）
CREATE TABLE wxy_xx (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	wxy_bm VARCHAR(36) NOT NULL COMMENT '危险源编码',
	wxy_mc VARCHAR(200) NOT NULL COMMENT '危险源名称：equals 安全风险分析对象 in fxgk_qd',
	sfzd VARCHAR(2) COMMENT '是否重大危险源：是/否',
	wxy_jb VARCHAR(10) COMMENT '重大危险源级别：一级..四级',
	r_z NUMERIC(10, 2) COMMENT 'R值',
	tyrq DATE COMMENT '投用日期',
	zyfzr VARCHAR(50) COMMENT '主要负责人',
	zyfzr_dh VARCHAR(20) COMMENT '主要负责人电话',
	zyfzr_zw VARCHAR(50) COMMENT '主要负责人职务',
	jsfzr VARCHAR(50) COMMENT '技术负责人',
	jsfzr_dh VARCHAR(20) COMMENT '技术负责人电话',
	jsfzr_zw VARCHAR(50) COMMENT '技术负责人职务',
	czfzr VARCHAR(50) COMMENT '操作负责人',
	czfzr_dh VARCHAR(20) COMMENT '操作负责人电话',
	czfzr_zw VARCHAR(50) COMMENT '操作负责人职务',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='危险源信息（含重大危险源包保责任人）：Analysis objects of the risk list; major hazards carry the three 包保 persons.';
CREATE INDEX ix_wxy_xx_qy_bm ON wxy_xx (qy_bm);
CREATE INDEX ix_wxy_xx_update_time ON wxy_xx (update_time);

-- fxgk_qd: 安全风险分级管控清单
CREATE TABLE fxgk_qd (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	xh INTEGER COMMENT '序号',
	fxdx VARCHAR(200) COMMENT '安全风险分析对象',
	zrbm VARCHAR(200) COMMENT '责任部门',
	zrr VARCHAR(50) COMMENT '责任人',
	fxdy VARCHAR(200) COMMENT '安全风险分析单元',
	wxy VARCHAR(200) COMMENT '危险源',
	aqfx VARCHAR(500) COMMENT '安全风险',
	fxdj VARCHAR(20) COMMENT '安全风险等级：重大风险/较大风险/一般风险/低风险',
	fxsj VARCHAR(500) COMMENT '安全风险事件：最严重后果',
	gkcs_fl VARCHAR(50) COMMENT '风险管控措施分类：分类1/分类2, e.g. 工程技术/安全附件',
	gkcs VARCHAR(1000) COMMENT '风险管控措施',
	gkcj VARCHAR(20) COMMENT '风险管控层级',
	gw_zrr VARCHAR(50) COMMENT '岗位（责任人）',
	pcpc VARCHAR(20) COMMENT '排查频次：e.g. 1天, 8小时, 1月',
	gkfs VARCHAR(20) COMMENT '管控方式：隐患排查/自动化监控',
	pcnr VARCHAR(1000) COMMENT '排查内容',
	rwlx VARCHAR(20) COMMENT '任务类型：日常任务/主要负责人任务/技术负责人任务/操作负责人任务',
	bbrw_xh VARCHAR(2) COMMENT '包保任务序号',
	gzrlx VARCHAR(20) COMMENT '工作日类型：每天/法定工作日/非法定工作日',
	rw_kssj DATETIME COMMENT '任务开始时间',
	gz_kssj VARCHAR(8) COMMENT '工作开始时间：HH:MM:SS',
	gz_jssj VARCHAR(8) COMMENT '工作结束时间：HH:MM:SS',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险分级管控清单：One row per control measure, as in attachment 2 (序号 … 排查频次), with every cell filled in (the spreadsheet''s merged cells are repeated on each row), followed by the task settings the county system keeps next to the list.';
CREATE INDEX ix_fxgk_qd_qy_bm ON fxgk_qd (qy_bm);
CREATE INDEX ix_fxgk_qd_update_time ON fxgk_qd (update_time);

-- yhpc_jl: 隐患排查记录
CREATE TABLE yhpc_jl (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	qd_id INTEGER NOT NULL COMMENT '清单ID：fxgk_qd.id of the measure checked',
	pcsj DATETIME NOT NULL COMMENT '排查时间',
	pcjg VARCHAR(20) COMMENT '排查结果：正常/存在隐患/未排查/其他',
	pcr VARCHAR(50) COMMENT '排查人',
	pcr_sj VARCHAR(20) COMMENT '排查人手机号',
	sb_bm VARCHAR(50) COMMENT '设备IMEI',
	sfbb VARCHAR(2) COMMENT '是否包保任务：是/否',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='隐患排查记录';
CREATE INDEX ix_yhpc_jl_qd_id ON yhpc_jl (qd_id);
CREATE INDEX ix_yhpc_jl_qy_bm ON yhpc_jl (qy_bm);
CREATE INDEX ix_yhpc_jl_update_time ON yhpc_jl (update_time);

-- yh_tz: 隐患治理台账
CREATE TABLE yh_tz (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	wxy_id INTEGER COMMENT '危险源ID：wxy_xx.id',
	jl_id INTEGER COMMENT '排查记录ID：yhpc_jl.id; empty for dangers not found by a check task',
	qd_id INTEGER COMMENT '清单ID：fxgk_qd.id of the measure that failed',
	yh_mc VARCHAR(300) COMMENT '隐患名称',
	yh_dj VARCHAR(20) COMMENT '隐患等级：一般隐患/重大隐患',
	djsj DATETIME COMMENT '登记时间',
	djr VARCHAR(50) COMMENT '登记人',
	yh_ly VARCHAR(50) COMMENT '隐患来源',
	zf_bh VARCHAR(100) COMMENT '执法编号',
	zl_lx VARCHAR(20) COMMENT '治理类型：即查即改/限期整改',
	yh_lx VARCHAR(20) COMMENT '隐患类型：安全/工艺/电气/仪表/消防/总图/设备/其他',
	yh_lb VARCHAR(20) COMMENT '隐患类别',
	yh_ms TEXT COMMENT '隐患描述',
	yy_fx TEXT COMMENT '原因分析',
	kz_cs VARCHAR(1000) COMMENT '控制措施',
	zg_zj NUMERIC(12, 2) COMMENT '整改资金：万元',
	zg_zrr VARCHAR(50) COMMENT '整改责任人',
	zl_qx DATE COMMENT '治理期限',
	ys_r VARCHAR(50) COMMENT '验收人',
	ys_sj DATETIME COMMENT '验收时间',
	ys_qk VARCHAR(1000) COMMENT '验收情况',
	yh_zt VARCHAR(20) COMMENT '隐患状态：整改中/待验收/已验收',
	gl_fl VARCHAR(50) COMMENT '管理分类',
	fs_hj VARCHAR(20) COMMENT '发生环节',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='隐患治理台账';
CREATE INDEX ix_yh_tz_qy_bm ON yh_tz (qy_bm);
CREATE INDEX ix_yh_tz_update_time ON yh_tz (update_time);

-- zz_tyjx: 装置停用检修记录
CREATE TABLE zz_tyjx (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	fxdx VARCHAR(200) COMMENT '安全风险分析对象',
	fxdy VARCHAR(200) COMMENT '安全风险分析单元',
	ty_kssj DATETIME COMMENT '停用开始时间',
	ty_jssj DATETIME COMMENT '停用结束时间',
	ty_yy VARCHAR(500) COMMENT '停用原因',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='装置停用检修记录';
CREATE INDEX ix_zz_tyjx_qy_bm ON zz_tyjx (qy_bm);
CREATE INDEX ix_zz_tyjx_update_time ON zz_tyjx (update_time);

-- fx_fq: 风险分区
CREATE TABLE fx_fq (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	fq_bm VARCHAR(50) COMMENT '分区编号',
	fq_mc VARCHAR(200) COMMENT '分区名称',
	fxdj VARCHAR(20) COMMENT '风险等级：一级..四级 (一级 = 重大风险)',
	zb_fw VARCHAR(1000) COMMENT '坐标范围',
	szbm VARCHAR(200) COMMENT '所在部门',
	pjr VARCHAR(50) COMMENT '评价人',
	fprq DATE COMMENT '复评日期',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='风险分区';
CREATE INDEX ix_fx_fq_qy_bm ON fx_fq (qy_bm);
CREATE INDEX ix_fx_fq_update_time ON fx_fq (update_time);

-- fx_fbt: 安全风险四色分布图
CREATE TABLE fx_fbt (
	id INTEGER NOT NULL COMMENT '主键' AUTO_INCREMENT,
	qy_bm VARCHAR(9) NOT NULL COMMENT '企业编码',
	tm VARCHAR(200) COMMENT '图名',
	wj_mc VARCHAR(200) COMMENT '文件名',
	tp LONGBLOB COMMENT '图片',
	cjr VARCHAR(50) COMMENT '创建人',
	cjsj DATETIME COMMENT '创建时间',
	gxr VARCHAR(50) COMMENT '更新人',
	update_time DATETIME COMMENT '更新时间：set on every insert and update',
	del_flag VARCHAR(1) NOT NULL COMMENT '删除标志：0 存在, 2 删除' DEFAULT '0',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险四色分布图';
CREATE INDEX ix_fx_fbt_qy_bm ON fx_fbt (qy_bm);
CREATE INDEX ix_fx_fbt_update_time ON fx_fbt (update_time);

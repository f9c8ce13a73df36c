-- 双重预防机制数据中间表（参考定义） (mysql)
-- Generated from sql/tables.yaml by `syncd ddl`. Do not edit: change the YAML and regenerate.
-- Tables use InnoDB and utf8mb4; VARCHAR(n) counts characters.

-- dp_hazard: 安全风险分析对象（危险源）
CREATE TABLE dp_hazard (
	id VARCHAR(36) NOT NULL COMMENT '分析对象ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码：9-digit code from 危险化学品登记信息管理系统',
	hazard_code VARCHAR(36) NOT NULL COMMENT '危险源编码：code from 危险化学品登记信息管理系统',
	hazard_name VARCHAR(200) NOT NULL COMMENT '危险源名称',
	is_major VARCHAR(1) NOT NULL COMMENT '是否重大危险源',
	hazard_level VARCHAR(1) COMMENT '重大危险源级别：1 一级 .. 4 四级; NULL when not a major hazard',
	rvalue NUMERIC(10, 2) COMMENT 'R值',
	establish_date DATE COMMENT '投用日期',
	responsible VARCHAR(50) COMMENT '主要负责人：包保主要负责人姓名',
	responsible_phone VARCHAR(20) COMMENT '主要负责人电话',
	responsible_post VARCHAR(50) COMMENT '主要负责人职务',
	technical VARCHAR(50) COMMENT '技术负责人：包保技术负责人姓名',
	technical_phone VARCHAR(20) COMMENT '技术负责人电话',
	technical_post VARCHAR(50) COMMENT '技术负责人职务',
	operation VARCHAR(50) COMMENT '操作负责人：包保操作负责人姓名',
	operation_phone VARCHAR(20) COMMENT '操作负责人电话',
	operation_post VARCHAR(50) COMMENT '操作负责人职务',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险分析对象（危险源）：Production/storage facilities, sites and areas analysed for risk, identified by the 危险源编码 of 危险化学品登记信息管理系统, with the three 重大危险源安全包保责任人. Nationally only hazard_code travels on child rows; this master is an assumption.';
CREATE INDEX ix_dp_hazard_area_code ON dp_hazard (area_code);
CREATE UNIQUE INDEX ux_dp_hazard_code ON dp_hazard (company_code, hazard_code);

-- dp_risk_unit: 安全风险分析单元
CREATE TABLE dp_risk_unit (
	id VARCHAR(36) NOT NULL COMMENT '风险单元ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	hazard_code VARCHAR(36) NOT NULL COMMENT '风险分析对象编码：危险源编码 of the analysis object',
	hazard_dep VARCHAR(200) NOT NULL COMMENT '责任部门：department that owns the analysis object',
	hazard_liable_person VARCHAR(20) NOT NULL COMMENT '责任人：head of that department',
	risk_unit_name VARCHAR(200) NOT NULL COMMENT '风险分析单元名称',
	risk_level VARCHAR(1) COMMENT '风险等级：highest risk level among the unit''s risks',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险分析单元：A unit within an analysis object (e.g. 甲醇罐区微单元).';
CREATE INDEX ix_dp_risk_unit_area_code ON dp_risk_unit (area_code);
CREATE INDEX ix_dp_risk_unit_company_code ON dp_risk_unit (company_code);

-- dp_risk_event: 安全风险事件
CREATE TABLE dp_risk_event (
	id VARCHAR(36) NOT NULL COMMENT '风险事件ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	risk_unit_id VARCHAR(36) NOT NULL COMMENT '风险单元ID',
	risk_event_name VARCHAR(500) NOT NULL COMMENT '风险事件名称',
	risk_level VARCHAR(1) COMMENT '风险等级：highest level among the risks behind the event',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险事件：The most severe consequence chosen for key control (爆炸、火灾、中毒、窒息 ...).';
CREATE INDEX ix_dp_risk_event_area_code ON dp_risk_event (area_code);
CREATE INDEX ix_dp_risk_event_company_code ON dp_risk_event (company_code);
CREATE INDEX ix_dp_risk_event_risk_unit_id ON dp_risk_event (risk_unit_id);

-- dp_risk_measure: 安全风险管控措施
CREATE TABLE dp_risk_measure (
	id VARCHAR(36) NOT NULL COMMENT '管控措施ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	risk_event_id VARCHAR(36) NOT NULL COMMENT '风险事件ID',
	data_src VARCHAR(2) NOT NULL COMMENT '管控方式',
	risk_measure_desc TEXT NOT NULL COMMENT '管控措施描述：national varchar(4000); text because 4000 Chinese characters exceed Oracle''s 4000-byte VARCHAR2',
	classify1 VARCHAR(2) NOT NULL COMMENT '管控措施分类1',
	classify2 VARCHAR(4) NOT NULL COMMENT '管控措施分类2：<classify1>-<n>',
	classify3 VARCHAR(100) COMMENT '管控措施分类3：enterprise-defined free text',
	troubleshoot_content TEXT NOT NULL COMMENT '隐患排查内容',
	control_level VARCHAR(20) COMMENT '管控层级：free text (公司级/厂级/车间级/班组级/岗位级); no national code list',
	post_liable_person VARCHAR(50) COMMENT '岗位责任人',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险管控措施';
CREATE INDEX ix_dp_measure_company ON dp_risk_measure (company_code);
CREATE INDEX ix_dp_measure_event ON dp_risk_measure (risk_event_id);
CREATE INDEX ix_dp_risk_measure_area_code ON dp_risk_measure (area_code);

-- dp_check_task: 隐患排查任务
CREATE TABLE dp_check_task (
	id VARCHAR(36) NOT NULL COMMENT '排查任务ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	risk_measure_id VARCHAR(36) NOT NULL COMMENT '管控措施ID',
	troubleshoot_content VARCHAR(1000) NOT NULL COMMENT '隐患排查内容',
	check_cycle NUMERIC(6, 2) NOT NULL COMMENT '排查周期：> 0, in check_cycle_unit',
	check_cycle_unit VARCHAR(20) NOT NULL COMMENT '排查周期单位：小时/天/月/年 stored as Chinese text',
	task_start_time DATETIME COMMENT '任务开始时间：first execution of the task',
	work_start_time VARCHAR(8) COMMENT '工作开始时间：HH:MM:SS; required when the unit is 小时',
	work_end_time VARCHAR(8) COMMENT '工作结束时间：HH:MM:SS; required when the unit is 小时',
	work_day_type VARCHAR(1) COMMENT '工作日类型',
	work_type VARCHAR(1) NOT NULL COMMENT '任务类型' DEFAULT '0',
	task_num VARCHAR(2) COMMENT '包保任务对应项：1-9 / 1-10 item of the 包保 task list; required when work_type is not 0',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='隐患排查任务';
CREATE INDEX ix_dp_check_task_area_code ON dp_check_task (area_code);
CREATE INDEX ix_dp_check_task_company_code ON dp_check_task (company_code);
CREATE INDEX ix_dp_task_measure ON dp_check_task (risk_measure_id);

-- dp_check_record: 隐患排查记录
CREATE TABLE dp_check_record (
	id VARCHAR(36) NOT NULL COMMENT '排查记录ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	check_task_id VARCHAR(36) NOT NULL COMMENT '排查任务ID',
	check_time DATETIME NOT NULL COMMENT '排查时间',
	check_status VARCHAR(1) NOT NULL COMMENT '排查结果',
	mobile_me VARCHAR(50) COMMENT '设备IMEI码',
	is_defend VARCHAR(1) COMMENT '是否包保责任人任务',
	create_by_mobile VARCHAR(20) NOT NULL COMMENT '创建人手机号',
	update_by_mobile VARCHAR(20) NOT NULL COMMENT '最后修改人手机号',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='隐患排查记录';
CREATE INDEX ix_dp_check_record_area_code ON dp_check_record (area_code);
CREATE INDEX ix_dp_check_record_check_time ON dp_check_record (check_time);
CREATE INDEX ix_dp_record_company ON dp_check_record (company_code);
CREATE INDEX ix_dp_record_task ON dp_check_record (check_task_id);

-- dp_hidden_danger: 隐患信息（隐患治理台账）
CREATE TABLE dp_hidden_danger (
	id VARCHAR(36) NOT NULL COMMENT '隐患ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	hazard_code VARCHAR(36) NOT NULL COMMENT '风险分析对象编码',
	risk_measure_id VARCHAR(36) COMMENT '管控措施ID：required for dangers found by a check task; NULL for other sources',
	check_record_id VARCHAR(36) COMMENT '排查记录ID：required for dangers found by a check task; NULL for other sources',
	danger_name VARCHAR(300) NOT NULL COMMENT '隐患名称',
	danger_level VARCHAR(1) NOT NULL COMMENT '隐患等级',
	regist_time DATETIME NOT NULL COMMENT '登记时间',
	registrant VARCHAR(100) NOT NULL COMMENT '登记人',
	danger_src VARCHAR(4) NOT NULL COMMENT '隐患来源',
	enforcement_id VARCHAR(100) COMMENT '执法编号：for dangers found by law enforcement',
	danger_manage_type VARCHAR(1) NOT NULL COMMENT '隐患治理类型',
	hazard_danger_type VARCHAR(1) NOT NULL COMMENT '隐患类型',
	hazard_category VARCHAR(1) NOT NULL COMMENT '隐患类别' DEFAULT '0',
	danger_desc TEXT NOT NULL COMMENT '隐患描述',
	danger_reason TEXT COMMENT '原因分析',
	control_measures VARCHAR(1000) COMMENT '控制措施',
	cost VARCHAR(100) COMMENT '整改资金：万元',
	liable_person VARCHAR(100) NOT NULL COMMENT '整改责任人',
	danger_manage_deadline DATE NOT NULL COMMENT '隐患治理期限',
	check_accept_person VARCHAR(50) COMMENT '验收人：required when danger_state is 9',
	check_accept_time DATE COMMENT '验收时间：required when danger_state is 9',
	check_accept_comment VARCHAR(1000) COMMENT '验收情况',
	danger_state VARCHAR(1) NOT NULL COMMENT '隐患状态',
	danger_img TEXT COMMENT '隐患照片：image URL or base64; the province''s attachment service decides',
	danger_accept_img TEXT COMMENT '整改后照片：idem',
	management_classification VARCHAR(1) COMMENT '隐患管理分类',
	occurrence_link VARCHAR(2) COMMENT '发生环节',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='隐患信息（隐患治理台账）：One row per hidden danger, from registration through rectification to acceptance.';
CREATE INDEX ix_dp_danger_company ON dp_hidden_danger (company_code);
CREATE INDEX ix_dp_danger_record ON dp_hidden_danger (check_record_id);
CREATE INDEX ix_dp_danger_state ON dp_hidden_danger (danger_state);
CREATE INDEX ix_dp_hidden_danger_area_code ON dp_hidden_danger (area_code);

-- dp_unit_stop: 装置停用检修记录
CREATE TABLE dp_unit_stop (
	id VARCHAR(36) NOT NULL COMMENT '停用检修记录ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	hazard_code VARCHAR(36) NOT NULL COMMENT '风险分析对象编码',
	risk_unit_id VARCHAR(36) NOT NULL COMMENT '风险单元ID',
	stop_start_time DATETIME NOT NULL COMMENT '停用开始时间',
	stop_end_time DATETIME COMMENT '停用结束时间',
	stop_reason VARCHAR(500) COMMENT '停用原因',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='装置停用检修记录：Tasks under a stopped unit are not counted as missed while it is stopped.';
CREATE INDEX ix_dp_unit_stop_area_code ON dp_unit_stop (area_code);
CREATE INDEX ix_dp_unit_stop_company_code ON dp_unit_stop (company_code);
CREATE INDEX ix_dp_unit_stop_risk_unit_id ON dp_unit_stop (risk_unit_id);

-- dp_risk_zone: 安全风险分区（四色图分区）
CREATE TABLE dp_risk_zone (
	id VARCHAR(36) NOT NULL COMMENT '风险分区ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	zone_code VARCHAR(50) NOT NULL COMMENT '风险分区编号',
	zone_name VARCHAR(200) NOT NULL COMMENT '风险分区名称',
	risk_level VARCHAR(1) NOT NULL COMMENT '风险等级',
	colour VARCHAR(2) NOT NULL COMMENT '颜色：红/橙/黄/蓝',
	coordinates VARCHAR(1000) COMMENT '风险坐标范围：zone outline as the source stores it',
	department VARCHAR(200) COMMENT '所在部门',
	evaluator VARCHAR(50) COMMENT '评价人',
	review_date DATE COMMENT '复评日期',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险分区（四色图分区）：Zones of the company''s four-colour risk map; no national table exists.';
CREATE INDEX ix_dp_risk_zone_area_code ON dp_risk_zone (area_code);
CREATE INDEX ix_dp_risk_zone_company_code ON dp_risk_zone (company_code);

-- dp_risk_map: 安全风险四色分布图
CREATE TABLE dp_risk_map (
	id VARCHAR(36) NOT NULL COMMENT '分布图ID：UUID',
	company_code VARCHAR(9) NOT NULL COMMENT '企业编码',
	map_name VARCHAR(200) NOT NULL COMMENT '图名称',
	file_name VARCHAR(200) NOT NULL COMMENT '文件名',
	media_type VARCHAR(50) NOT NULL COMMENT '文件类型：MIME type: image/png, image/jpeg',
	image LONGBLOB NOT NULL COMMENT '图片：file content',
	deleted VARCHAR(1) NOT NULL COMMENT '删除标志：0 正常, 1 已删除; rows are never removed, deletions travel as deleted=1' DEFAULT '0',
	create_date DATETIME NOT NULL COMMENT '创建时间：creation time in the enterprise/county system',
	create_by VARCHAR(100) NOT NULL COMMENT '创建人：name of the person who created the record',
	update_date DATETIME NOT NULL COMMENT '最后修改时间：equals create_date on first insert',
	update_by VARCHAR(100) NOT NULL COMMENT '最后修改人',
	area_code VARCHAR(12) NOT NULL COMMENT '行政区划代码：administrative area code of the uploading county (6-digit GB/T 2260; 12 allows the statistical form)',
	sync_time DATETIME NOT NULL COMMENT '同步时间：time syncd wrote the row',
	run_id VARCHAR(64) NOT NULL COMMENT '同步批次：id of the syncd run that wrote the row',
	PRIMARY KEY (id)
)ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='安全风险四色分布图：The map images (总平图、车间图) of a company, stored as files.';
CREATE INDEX ix_dp_risk_map_area_code ON dp_risk_map (area_code);
CREATE INDEX ix_dp_risk_map_company_code ON dp_risk_map (company_code);
